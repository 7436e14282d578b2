// The daemon's DNS, end to end with clients that are not ours, run inside sandboxes by `cnm exec`:
// glibc's getent, busybox nslookup, dig (dnsutils), python3 for bad input. The daemon, the sandboxes
// and a small upstream resolver all live in the namespace this file plays the host in.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describeKernel, requireProgram, run, useHostNetns } from '@cnm/netlink/testing'
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import { BIN, cnm, type Started, start, stop } from './test/cnm.js'
import { api } from './test/daemon.js'

const UPSTREAM = fileURLToPath(new URL('../../dns/bench/upstream.mjs', import.meta.url))
const UPSTREAM_ADDRESS = '127.0.0.53'
/** Each test runs tens of `cnm exec` (a Node start each): minutes on a loaded 2-core machine. */
const SLOW = 400_000

describeKernel('cnm serve: DNS for containers (kernel, real clients through cnm exec)', () => {
  const host = useHostNetns()
  let tmp: string
  let store: string
  let sandboxDir: string
  let resolverDir: string
  let hostResolv: string
  let socketPath: string
  let daemon: Started | undefined
  let upstream: ChildProcess | undefined
  const env = (): Record<string, string> => ({ CNM_HOST: `unix://${socketPath}` })
  const g = (...args: string[]): string[] => ['--store', store, '--sandbox-dir', sandboxDir, ...args]

  /** `cnm …` through the daemon; exit 0 expected. */
  const thin = (...args: string[]): string => {
    const res = cnm(args, env())
    expect(res.status, `cnm ${args.join(' ')}: ${res.stderr}`).toBe(0)
    return res.stdout
  }
  /** `cnm exec SANDBOX -- …argv` (no shell anywhere), with its exit code and output. */
  const exec = (sandbox: string, ...argv: string[]): { status: number; stdout: string; stderr: string } => {
    const res = spawnSync(process.execPath, [BIN, 'exec', sandbox, '--', ...argv], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, ...env() },
    })
    if (res.error) throw res.error
    return { status: res.status ?? -1, stdout: res.stdout, stderr: res.stderr }
  }
  /** `dig +short` answers from inside a sandbox (the sandbox's resolv.conf names the server). */
  const dig = (sandbox: string, ...args: string[]): string[] => {
    const res = exec(sandbox, 'dig', '+short', '+time=2', '+tries=2', ...args)
    expect(res.status, `dig ${args.join(' ')} in ${sandbox}: ${res.stderr}${res.stdout}`).toBe(0)
    return res.stdout.split('\n').filter(Boolean)
  }
  /** dig's status line (NOERROR, NXDOMAIN, SERVFAIL …) and its reported query time. */
  const digStatus = (sandbox: string, ...args: string[]): { status: string; ms: number; out: string } => {
    const res = exec(sandbox, 'dig', '+time=3', '+tries=1', ...args)
    const status = /status: ([A-Z]+)/u.exec(res.stdout)?.[1] ?? `exit ${res.status}`
    const ms = Number(/Query time: (\d+) msec/u.exec(res.stdout)?.[1] ?? Number.NaN)
    return { status, ms, out: res.stdout }
  }
  const serve = async (): Promise<Started> => {
    const d = await start(
      g('serve', '--socket', socketPath, '--dns-resolver-dir', resolverDir, '--dns-resolv-conf', hostResolv),
      1,
    )
    daemon = d
    return d
  }
  const startUpstream = async (): Promise<ChildProcess> => {
    const child = spawn(process.execPath, [UPSTREAM, UPSTREAM_ADDRESS, '53'], { stdio: ['ignore', 'pipe', 'inherit'] })
    await new Promise<void>((resolve, reject) => {
      child.stdout?.once('data', () => resolve())
      child.once('exit', (code) => reject(new Error(`the upstream exited ${code}`)))
    })
    upstream = child
    return child
  }

  beforeAll(async () => {
    // Each client must be there (CI installs them): a missing one fails, it is never skipped.
    for (const [tool, ...args] of [['dig', '-v'], ['busybox'], ['getent', '--version'], ['python3', '--version']]) {
      const res = spawnSync(tool as string, args, { stdio: 'ignore' })
      if (res.error || res.status !== 0) throw new Error(`this test needs \`${tool}\` (scripts/setup.sh installs it)`)
    }
    requireProgram('nft')
    tmp = mkdtempSync(path.join(tmpdir(), 'cnm-dns-'))
    store = path.join(tmp, 'cnm.db')
    sandboxDir = path.join(host.dir, 'sb')
    resolverDir = path.join(tmp, 'resolv')
    socketPath = path.join(tmp, 'cnm.sock')
    hostResolv = path.join(tmp, 'host-resolv.conf')
    // The "host's" resolver: the small upstream this test runs, with options sandboxes inherit.
    writeFileSync(hostResolv, `nameserver ${UPSTREAM_ADDRESS}\nsearch example\noptions timeout:2 attempts:2\n`)
    await startUpstream()
  })
  afterEach(async () => {
    if (daemon) await stop(daemon.child, 'SIGTERM')
    daemon = undefined
    const list = <T>(what: string): T[] => JSON.parse(cnm(g(what, 'ls', '--json')).stdout || '[]') as T[]
    for (const s of list<{ id: string }>('sandbox')) cnm(g('sandbox', 'rm', s.id))
    for (const n of list<{ id: string }>('network')) cnm(g('network', 'rm', n.id))
  })
  afterAll(async () => {
    if (upstream) await stop(upstream, 'SIGKILL')
    if (tmp) rmSync(tmp, { recursive: true, force: true })
    if (sandboxDir) rmSync(sandboxDir, { recursive: true, force: true })
  })

  it(
    'two sandboxes resolve each other by endpoint name, container name, container id and alias (A, AAAA, PTR) with getent, nslookup and dig; the names come and go with connect and disconnect, and survive a restart',
    async () => {
      await serve()
      thin('network', 'create', 'dns1', '--subnet', '10.231.0.0/24', '--ipv6', '--subnet', 'fd00:231::/64')
      thin('sandbox', 'create', 'c1aa', '--name', 'web')
      thin('sandbox', 'create', 'c2bb', '--name', 'db')
      thin('connect', 'dns1', 'c1aa', '--endpoint', 'webep', '--alias', 'www', '--alias', 'front.end')
      thin('connect', 'dns1', 'c2bb')
      const web = JSON.parse(thin('endpoint', 'inspect', 'dns1', 'webep')) as {
        ipv4: string
        ipv6: string
        aliases: string[]
      }[]
      const { ipv4, ipv6, aliases } = web[0] as { ipv4: string; ipv6: string; aliases: string[] }
      expect(aliases).toEqual(['www', 'front.end'])
      const v4 = ipv4.split('/')[0] as string
      const v6 = ipv6.split('/')[0] as string
      expect(v4).toMatch(/^10\.231\.0\.\d+$/u)
      expect(v6).toMatch(/^fd00:231::/u)

      // glibc: every name of c1, through the search domain (a short name).
      for (const name of ['web', 'webep', 'c1aa', 'www', 'front.end', 'web.cnm.internal']) {
        const v4s = exec('c2bb', 'getent', 'ahostsv4', name)
        expect(v4s.status, `getent ahostsv4 ${name}: ${v4s.stderr}`).toBe(0)
        expect(v4s.stdout.split('\n')[0]).toMatch(new RegExp(`^${v4.replace(/\./gu, '\\.')}\\s`, 'u'))
      }
      const six = exec('c2bb', 'getent', 'ahostsv6', 'www')
      expect(six.stdout.split('\n')[0]?.split(/\s+/u)[0]).toBe(v6)
      expect(exec('c2bb', 'getent', 'hosts', 'www').stdout).toMatch(new RegExp(`^(${v4}|${v6})\\s`, 'u'))
      // And back: c1 finds c2 by its container name.
      expect(exec('c1aa', 'getent', 'ahostsv4', 'db').status).toBe(0)
      // busybox's resolver (its own stub, reading the mounted resolv.conf).
      const ns = exec('c2bb', 'busybox', 'nslookup', 'www.cnm.internal')
      expect(ns.stdout).toContain(v4)
      // dig: A, AAAA, PTR of each address.
      expect(dig('c2bb', 'www.cnm.internal', 'A')).toEqual([v4])
      expect(dig('c2bb', 'www.cnm.internal', 'AAAA')).toEqual([v6])
      expect(dig('c2bb', '-x', v4)).toEqual(['web.cnm.internal.'])
      expect(dig('c2bb', '-x', v6)).toEqual(['web.cnm.internal.'])
      expect(digStatus('c2bb', 'nobody.cnm.internal').status).toBe('NXDOMAIN')

      // The REST API hands a runtime the same files.
      const resolver = await api({ socketPath }, 'GET', '/v1/sandboxes/c2bb/resolver')
      expect(resolver).toMatchObject({
        status: 200,
        body: {
          dns: true,
          nameservers: ['10.231.0.1', 'fd00:231::1'],
          search: ['cnm.internal', 'example'],
          options: ['timeout:2', 'attempts:2'],
        },
      })
      const body = resolver.body as { resolvConf: string; hosts: string; files: { resolvConf: string; hosts: string } }
      expect(readFileSync(body.files.resolvConf, 'utf8')).toBe(body.resolvConf)
      expect(body.hosts).toMatch(/\tdb\.cnm\.internal db\n/u)
      expect(exec('c2bb', 'cat', '/etc/resolv.conf').stdout).toBe(body.resolvConf)
      expect(exec('c2bb', 'cat', '/etc/hosts').stdout).toBe(body.hosts)

      // Gone as soon as disconnect returns; back as soon as connect returns.
      thin('disconnect', 'dns1', 'c1aa')
      expect(digStatus('c2bb', 'www.cnm.internal').status).toBe('NXDOMAIN')
      thin('connect', 'dns1', 'c1aa', '--endpoint', 'webep', '--alias', 'www')
      expect(dig('c2bb', 'www.cnm.internal')).toHaveLength(1)

      // A restart: the aliases were stored with the endpoint.
      await stop((daemon as Started).child, 'SIGTERM')
      await serve()
      expect(dig('c2bb', 'www.cnm.internal')).toHaveLength(1)
      expect(dig('c2bb', 'web.cnm.internal')).toHaveLength(1)
    },
    SLOW,
  )

  it(
    "a sandbox on another network gets NXDOMAIN for those names and cannot reach that network's server (UDP or TCP); its own answers",
    async () => {
      await serve()
      thin('network', 'create', 'dnsa', '--subnet', '10.232.0.0/24')
      thin('network', 'create', 'dnsb', '--subnet', '10.233.0.0/24')
      thin('sandbox', 'create', 'a1', '--name', 'alpha')
      thin('sandbox', 'create', 'a2')
      thin('sandbox', 'create', 'b1', '--name', 'bravo')
      thin('connect', 'dnsa', 'a1', '--alias', 'shared')
      thin('connect', 'dnsa', 'a2')
      thin('connect', 'dnsb', 'b1')
      // Positive control: on its own network, by name and by the server's address, UDP and TCP.
      expect(dig('a2', 'alpha.cnm.internal')).toEqual(['10.232.0.2'])
      expect(dig('a2', '@10.232.0.1', 'shared.cnm.internal')).toEqual(['10.232.0.2'])
      expect(dig('a2', '+tcp', '@10.232.0.1', 'shared.cnm.internal')).toEqual(['10.232.0.2'])
      expect(dig('b1', 'bravo.cnm.internal')).toEqual(['10.233.0.2'])
      // The other network's names do not exist here.
      for (const name of ['alpha', 'shared', 'a1']) {
        expect(digStatus('b1', `${name}.cnm.internal`).status).toBe('NXDOMAIN')
        expect(exec('b1', 'getent', 'hosts', name).status).toBe(2) // glibc: not found
      }
      // Its server is a local address of the host, but not of b1's bridge: dropped (no answer at all).
      const udp = exec('b1', 'dig', '+time=1', '+tries=1', '@10.232.0.1', 'alpha.cnm.internal')
      expect(udp.stdout).toMatch(/timed out|no servers could be reached/u)
      const tcp = exec('b1', 'dig', '+tcp', '+time=1', '+tries=1', '@10.232.0.1', 'alpha.cnm.internal')
      expect(tcp.stdout).toMatch(/timed out|no servers could be reached|connection refused|end of file/iu)
      // A sandbox on both networks resolves both through its one nameserver (dnsa's, the first);
      // b1 still sees nothing of dnsa.
      thin('sandbox', 'create', 'ab')
      thin('connect', 'dnsa', 'ab')
      thin('connect', 'dnsb', 'ab')
      expect(exec('ab', 'cat', '/etc/resolv.conf').stdout).toMatch(/^nameserver 10\.232\.0\.1$/mu)
      expect(dig('ab', 'alpha.cnm.internal')).toEqual(['10.232.0.2'])
      expect(dig('ab', 'bravo.cnm.internal')).toEqual(['10.233.0.2'])
      expect(exec('ab', 'getent', 'ahostsv4', 'bravo').stdout).toMatch(/^10\.233\.0\.2\s/u)
      expect(digStatus('b1', 'alpha.cnm.internal').status).toBe('NXDOMAIN')
      expect(digStatus('a2', 'bravo.cnm.internal').status).toBe('NXDOMAIN')
      thin('disconnect', 'dnsb', 'ab')
      expect(digStatus('ab', 'bravo.cnm.internal').status).toBe('NXDOMAIN')
      // The rule in cnm's table, read back by nft.
      expect(run('nft', ['list', 'chain', 'inet', 'cnm', 'input']).stdout).toContain(
        'th dport 53 fib daddr . iif type != local drop',
      )
    },
    SLOW,
  )

  it(
    'forwards other names to the upstream (UDP and TCP); with the upstream down answers SERVFAIL within 2 s and keeps serving local names',
    async () => {
      await serve()
      thin('network', 'create', 'dnsf', '--subnet', '10.234.0.0/24')
      thin('sandbox', 'create', 'f1', '--name', 'fox')
      thin('connect', 'dnsf', 'f1')
      expect(dig('f1', 'forwarded.example')).toEqual(['192.0.2.80'])
      expect(dig('f1', '+tcp', 'fwd7.example')).toEqual(['192.0.2.80'])
      expect(exec('f1', 'getent', 'ahostsv4', 'forwarded.example').stdout).toMatch(/^192\.0\.2\.80\s/u)
      // The search list from the host's resolv.conf: `forwarded` finds forwarded.example.
      expect(exec('f1', 'getent', 'ahostsv4', 'forwarded').stdout).toMatch(/^192\.0\.2\.80\s/u)

      await stop(upstream as ChildProcess, 'SIGKILL')
      upstream = undefined
      try {
        const started = Date.now()
        const down = digStatus('f1', 'forwarded.example')
        expect(down.status).toBe('SERVFAIL')
        expect(down.ms).toBeLessThan(2000)
        expect(Date.now() - started).toBeLessThan(10_000)
        expect(dig('f1', 'fox.cnm.internal')).toEqual(['10.234.0.2'])
      } finally {
        await startUpstream()
      }
    },
    SLOW,
  )

  it(
    'bad input (malformed packets, a 64 KB TCP query, a flood) never stops it: local names keep resolving',
    async () => {
      const d = await serve()
      thin('network', 'create', 'dnsx', '--subnet', '10.235.0.0/24')
      thin('sandbox', 'create', 'x1', '--name', 'target')
      thin('sandbox', 'create', 'x2')
      thin('connect', 'dnsx', 'x1')
      thin('connect', 'dnsx', 'x2')
      const script = [
        'import os, socket, struct',
        'server = ("10.235.0.1", 53)',
        'u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
        // Malformed: empty, truncated header, garbage, a header claiming 50 questions, random bytes.
        'for p in [b"", b"\\x12", b"\\xff" * 11, b"\\x00\\x01\\x01\\x00\\x00\\x32" + b"\\x00" * 6, os.urandom(700)]:',
        '    u.sendto(p, server)',
        // A flood: 20,000 queries as fast as the socket takes them, answers never read.
        'q = b"\\x00\\x00\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x06target\\x0ccnm\\x08internal\\x00\\x00\\x01\\x00\\x01"',
        'u.setblocking(False)',
        'sent = 0',
        'for i in range(20000):',
        '    try:',
        '        u.sendto(struct.pack(">H", i & 0xffff) + q[2:], server); sent += 1',
        '    except BlockingIOError:',
        '        pass',
        // TCP: a frame announcing 65535 bytes of junk, then a half frame, then a frame that is not DNS.
        'for payload in [struct.pack(">H", 65535) + os.urandom(65535), struct.pack(">H", 40000) + b"x" * 100, struct.pack(">H", 5) + b"hello"]:',
        '    t = socket.create_connection(server, timeout=5)',
        '    try:',
        '        t.sendall(payload)',
        '    except OSError:',
        '        pass',
        '    t.close()',
        'print(sent)',
      ].join('\n')
      const res = exec('x2', 'python3', '-c', script)
      expect(res.status, res.stderr).toBe(0)
      expect(Number(res.stdout.trim())).toBeGreaterThan(0)
      expect(d.child.exitCode).toBeNull()
      expect(dig('x2', 'target.cnm.internal')).toEqual(['10.235.0.2'])
      expect(dig('x2', '+tcp', 'target.cnm.internal')).toEqual(['10.235.0.2'])
    },
    SLOW,
  )

  it(
    'cnm exec passes the exit code, stdin, stdout and stderr through, runs in the sandbox namespace, and refuses bad input',
    async () => {
      await serve()
      thin('network', 'create', 'dnse', '--subnet', '10.236.0.0/24')
      thin('sandbox', 'create', 'e1')
      thin('connect', 'dnse', 'e1')
      expect(exec('e1', 'python3', '-c', 'import sys; sys.exit(7)').status).toBe(7)
      const piped = spawnSync(process.execPath, [BIN, 'exec', 'e1', '--', 'cat'], {
        input: 'through\n',
        encoding: 'utf8',
        env: { ...process.env, ...env() },
      })
      expect([piped.status, piped.stdout]).toEqual([0, 'through\n'])
      const err = exec('e1', 'python3', '-c', 'import sys; sys.stderr.write("oops\\n")')
      expect([err.status, err.stderr]).toEqual([0, 'oops\n'])
      // Its interfaces are the sandbox's (ip -j, not ours, inside).
      const links = JSON.parse(exec('e1', 'ip', '-j', 'addr', 'show', 'eth0').stdout) as {
        addr_info: { local: string }[]
      }[]
      expect(links[0]?.addr_info.map((a) => a.local)).toContain('10.236.0.2')
      // The host's /etc/resolv.conf is untouched (the mount was private to the program).
      expect(readFileSync('/etc/resolv.conf', 'utf8')).not.toContain('cnm.internal')
      expect(exec('nosuch', 'true').status).toBe(1)
      const missing = exec('e1', '/nonexistent/program')
      expect([missing.status, missing.stderr]).toEqual([127, expect.stringMatching(/^cnm: cannot run .*ENOENT/u)])
    },
    SLOW,
  )
})
