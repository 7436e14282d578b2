import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { request as httpsRequest } from 'node:https'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createClient } from '@cnm/client'
import { createController, type EndpointInspect, type NetworkInspect } from '@cnm/controller'
import { describeKernel, run, useHostNetns } from '@cnm/netlink/testing'
import { ERR_PORT_ALREADY_ALLOCATED, PortAllocator } from '@cnm/portallocator'
import { validate } from '@readme/openapi-parser'
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import { serveApi } from './serve.js'
import { BIN, cnm, exited, fails, ok, okJSON, type Started, start, stop } from './test/cnm.js'
import { api, errorOf, makeCertificates } from './test/daemon.js'
import { groupId } from './unix-socket.js'

describeKernel('cnm serve: the daemon (kernel, the real binary)', () => {
  const host = useHostNetns()
  let tmp: string
  let store: string
  let sandboxDir: string
  let runDir: string
  let socketPath: string
  const daemons: Started[] = []
  const g = (...args: string[]): string[] => ['--store', store, '--sandbox-dir', sandboxDir, ...args]
  const thinEnv = (): Record<string, string> => ({ CNM_HOST: `unix://${socketPath}` })
  const serve = async (extra: string[] = [], lines = 1): Promise<Started> => {
    const d = await start(g('serve', '--socket', socketPath, ...extra), lines)
    daemons.push(d)
    return d
  }

  beforeAll(() => {
    tmp = mkdtempSync(path.join(tmpdir(), 'cnm-serve-'))
    store = path.join(tmp, 'cnm.db')
    sandboxDir = path.join(host.dir, 'sb')
    // Mode 0755 all the way, so that `nobody` reaches the socket (and finds it 0660).
    chmodSync(tmp, 0o755)
    runDir = path.join(tmp, 'run')
    socketPath = path.join(runDir, 'cnm.sock')
  })
  afterEach(async () => {
    for (const d of daemons.splice(0)) await stop(d.child, 'SIGKILL')
    // Whatever a failed test left, in process: sandboxes (with their endpoints), endpoints, networks.
    const list = <T>(what: string): T[] => JSON.parse(cnm(g(what, 'ls', '--json')).stdout || '[]') as T[]
    for (const s of list<{ id: string }>('sandbox')) cnm(g('sandbox', 'rm', s.id))
    for (const e of list<EndpointInspect>('endpoint')) cnm(g('endpoint', 'rm', e.network.id, e.id))
    for (const n of list<{ id: string }>('network')) cnm(g('network', 'rm', n.id))
  })
  afterAll(() => {
    rmSync(tmp, { recursive: true, force: true })
    rmSync(sandboxDir, { recursive: true, force: true })
  })

  it('serves the API on a 0660 socket and on loopback TCP with --insecure-tcp; the thin CLI goes through it; SIGHUP is logged; SIGTERM stops it cleanly', async () => {
    // A stale socket file (its server was killed) is removed first.
    mkdirSync(runDir, { recursive: true })
    const script = "require('net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))"
    run(process.execPath, ['-e', script, socketPath], { check: false })
    expect(statSync(socketPath).isSocket()).toBe(true)

    const d = await serve(['--listen', '127.0.0.1:0', '--insecure-tcp'], 2)
    expect(d.output[0]).toBe(`listening on unix:${socketPath}`)
    const port = Number(/^listening on http:\/\/127\.0\.0\.1:(\d+)$/u.exec(d.output[1] ?? '')?.[1])
    expect(port).toBeGreaterThan(0)
    const st = statSync(socketPath)
    expect([st.mode & 0o777, st.uid, st.gid]).toEqual([0o660, 0, groupId('cnm') ?? 0])
    expect(d.logs()).toContain('plain HTTP without TLS (--insecure-tcp)')
    const unix = { socketPath }
    const tcp = { port }

    expect(await api(unix, 'GET', '/_ping')).toMatchObject({ status: 200, body: 'OK' })
    // The document as curl gets it validates as OpenAPI 3.1 (@readme/openapi-parser).
    const doc = JSON.parse(run('curl', ['-sS', '--unix-socket', socketPath, 'http://cnm/v1/openapi.json']).stdout)
    expect(doc.openapi).toBe('3.1.0')
    const valid = await validate(doc)
    expect(valid.valid ? [] : valid.errors).toEqual([])
    expect(await api(unix, 'GET', '/v1/version')).toMatchObject({ status: 200, body: { version: expect.any(String) } })
    const made = await api(unix, 'POST', '/v1/networks', { name: 'api', subnet: '10.210.0.0/24', icc: false })
    expect(made).toMatchObject({
      status: 201,
      body: { name: 'api', subnet: '10.210.0.0/24', gateway: '10.210.0.1', icc: false },
    })
    expect(await api(tcp, 'POST', '/v1/networks', { name: 'api' })).toMatchObject({
      status: 409,
      body: errorOf('ERR_NETWORK_NAME_EXISTS', 'conflict'),
    })
    expect(await api(unix, 'POST', '/v1/networks', { name: 'x', subnet: 'bogus' })).toMatchObject({
      status: 400,
      body: errorOf('ERR_INVALID_ARGUMENT', 'invalid'),
    })
    expect(await api(unix, 'POST', '/v1/networks', { name: 'x', options: { bogus: 1 } })).toMatchObject({
      status: 400,
      body: errorOf('ERR_INVALID_CONFIG', 'invalid'),
    })
    expect(await api(unix, 'POST', '/v1/networks', { name: 'x', subnet: '10.210.0.128/25' })).toMatchObject({
      status: 409,
      body: { error: { code: 'ERR_NETWORK_OVERLAPS', message: expect.stringContaining('overlaps network api') } },
    })
    expect(await api(unix, 'POST', '/v1/sandboxes', { containerID: 's1' })).toMatchObject({ status: 201 })
    const joined = await api(unix, 'POST', '/v1/networks/api/connect', { sandbox: 's1', publish: ['127.0.0.1::80'] })
    expect(joined).toMatchObject({
      status: 201,
      body: { name: 's1', joined: { interface: 'eth0' }, ports: [{ hostIP: '127.0.0.1' }] },
    })
    // The API server's own port cannot be published.
    const grab = await api(unix, 'POST', '/v1/networks/api/endpoints', { name: 'grab', publish: [`${port}:80`] })
    expect(grab).toMatchObject({ status: 409, body: errorOf(ERR_PORT_ALREADY_ALLOCATED, 'conflict') })

    // The thin CLI (no --store): through the daemon, which `cnm info` says.
    const info = ok(['info'], thinEnv())
    expect(info).toMatch(new RegExp(`^mode: +daemon \\(pid \\d+\\) at unix://${socketPath}$`, 'mu'))
    expect(info).toMatch(/^firewall: +(nftables|iptables)$/mu)
    expect(info).toMatch(new RegExp(`^store: +${store}$`, 'mu'))
    expect(ok(['network', 'ls'], thinEnv())).toMatch(
      /^[0-9a-f]{12} +api +bridge +br-[0-9a-f]{12} +10\.210\.0\.0\/24 /mu,
    )
    expect(ok(['port', 'ls'], thinEnv())).toMatch(/api +s1 +10\.210\.0\.2 +127\.0\.0\.1:\d+->80\/tcp/u)
    expect(fails(['network', 'inspect', 'nope'], 'ERR_UNKNOWN_NETWORK', 1, thinEnv())).toBe(
      'cnm: unknown network nope (ERR_UNKNOWN_NETWORK)\n',
    )
    // --store of the daemon's own store goes through the daemon (one writer per store, its lock
    // names it): each sees what the other made.
    expect(ok(g('info'))).toMatch(new RegExp(`^mode: +daemon \\(pid \\d+\\) at unix://${socketPath}$`, 'mu'))
    ok(g('network', 'create', 'cli-made', '--subnet', '10.211.0.0/24'))
    expect(await api(unix, 'GET', '/v1/networks/cli-made')).toMatchObject({
      status: 200,
      body: { subnet: '10.211.0.0/24' },
    })
    expect(
      okJSON<NetworkInspect[]>(g('network', 'ls', '--json'))
        .map((n) => n.name)
        .sort(),
    ).toEqual(['api', 'cli-made'])
    fails(g('serve', '--socket', socketPath), 'ERR_SOCKET_IN_USE')

    expect(await api(unix, 'DELETE', '/v1/networks/api')).toMatchObject({
      status: 409,
      body: errorOf('ERR_ACTIVE_ENDPOINTS', 'conflict'),
    })
    expect(ok(['disconnect', 'api', 's1'], thinEnv())).toBe('s1\n')
    expect(await api(unix, 'POST', '/v1/networks/api/disconnect', { sandbox: 's1' })).toMatchObject({
      status: 409,
      body: errorOf('ERR_NOT_JOINED', 'conflict'),
    })
    expect(await api(unix, 'DELETE', '/v1/sandboxes/s1')).toMatchObject({ status: 200, body: { containerID: 's1' } })
    expect(await api(tcp, 'DELETE', '/v1/networks/api')).toMatchObject({ status: 200, body: { name: 'api' } })
    expect(ok(['network', 'rm', 'cli-made'], thinEnv())).toBe('cli-made\n')
    expect(await api(unix, 'POST', '/v1/reconcile')).toMatchObject({ status: 200, body: { errors: [] } })

    d.child.kill('SIGHUP')
    await new Promise((r) => setTimeout(r, 300))
    expect(await api(unix, 'GET', '/_ping')).toMatchObject({ status: 200 })
    expect(d.logs()).toContain('SIGHUP: nothing to reload')
    expect(await stop(d.child, 'SIGTERM')).toBe(0)
    expect(d.output.at(-1)).toBe('stopped (SIGTERM)')
    expect(existsSync(socketPath)).toBe(false)
    // Each request and each change was logged (pino JSON lines on stderr).
    const logs = d
      .logs()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { msg: string })
    expect(logs.map((l) => l.msg)).toEqual(
      expect.arrayContaining(['cnm daemon started', 'incoming request', 'request completed', 'network create api']),
    )
  })

  it('TCP needs mutual TLS or --insecure-tcp on loopback; a client without a certificate is refused', async () => {
    expect(fails(g('serve', '--socket', socketPath, '--listen', '127.0.0.1:0'), 'ERR_INSECURE_TCP')).toContain(
      'needs mutual TLS (--tlscacert, --tlscert, --tlskey), or --insecure-tcp on a loopback address',
    )
    expect(
      fails(g('serve', '--socket', socketPath, '--listen', '0.0.0.0:0', '--insecure-tcp'), 'ERR_INSECURE_TCP'),
    ).toContain('--insecure-tcp binds only loopback')
    expect(existsSync(socketPath)).toBe(false)

    const pki = makeCertificates(tmp)
    const tlsFlags = ['--tlscacert', pki.ca, '--tlscert', pki.serverCert, '--tlskey', pki.serverKey]
    const d = await serve(['--listen', '127.0.0.1:0', ...tlsFlags], 2)
    const port = Number(/^listening on https:\/\/127\.0\.0\.1:(\d+)$/u.exec(d.output[1] ?? '')?.[1])
    expect(port).toBeGreaterThan(0)
    // curl (not ours): refused without a client certificate, answered with one.
    const url = `https://127.0.0.1:${port}/_ping`
    expect(run('curl', ['-sS', '--cacert', pki.ca, url], { check: false }).status).not.toBe(0)
    expect(run('curl', ['-sS', '--cacert', pki.ca, '--cert', pki.clientCert, '--key', pki.clientKey, url]).stdout).toBe(
      'OK',
    )
    // Node without a client certificate: the handshake fails.
    await expect(
      new Promise((resolve, reject) => {
        const req = httpsRequest({ host: '127.0.0.1', port, path: '/_ping', ca: readFileSync(pki.ca) }, resolve)
        req.on('error', reject)
        req.end()
      }),
    ).rejects.toThrow()
    // @cnm/client and the thin CLI with TLS.
    const client = createClient({
      host: `tcp://127.0.0.1:${port}`,
      tls: { ca: readFileSync(pki.ca), cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) },
    })
    expect(await client.ping()).toBe('OK')
    client.close()
    const tlsClient = [
      '-H',
      `tcp://127.0.0.1:${port}`,
      '--tlscacert',
      pki.ca,
      '--tlscert',
      pki.clientCert,
      '--tlskey',
      pki.clientKey,
    ]
    expect(ok([...tlsClient, 'info'])).toMatch(/^mode: +daemon /mu)
    expect(await stop(d.child, 'SIGTERM')).toBe(0)
  })

  it('cnm events prints what the daemon does, as it happens', async () => {
    const d = await serve()
    const ev = await start(['events', '--json'], 0, thinEnv())
    const text = await start(['events', '--type', 'network'], 0, thinEnv())
    await new Promise((r) => setTimeout(r, 1500)) // both subscribed
    ok(['network', 'create', 'ev', '--subnet', '10.213.0.0/24'], thinEnv())
    ok(['sandbox', 'create', 'evs'], thinEnv())
    ok(['connect', 'ev', 'evs', '-p', '127.0.0.1::80'], thinEnv())
    ok(['sandbox', 'rm', 'evs'], thinEnv())
    ok(['network', 'rm', 'ev'], thinEnv())
    const want = [
      'network create ev',
      'sandbox create evs',
      'endpoint create evs',
      'endpoint connect evs',
      'endpoint publish evs',
      'endpoint unpublish evs',
      'endpoint disconnect evs',
      'endpoint delete evs',
      'sandbox delete evs',
      'network delete ev',
    ]
    for (let i = 0; i < 100 && ev.output.length < want.length; i++) await new Promise((r) => setTimeout(r, 50))
    const events = ev.output.map((l) => JSON.parse(l) as { type: string; action: string; name: string })
    expect(events.map((e) => `${e.type} ${e.action} ${e.name}`)).toEqual(want)
    expect(text.output).toEqual([
      expect.stringMatching(/^\S+Z network create ev id=[0-9a-f]{12}$/u),
      expect.stringMatching(/^\S+Z network delete ev id=[0-9a-f]{12}$/u),
    ])
    // The daemon stopping ends the streams: `cnm events` exits 0 by itself (a loaded machine may
    // take a moment to tell it: it is given 10 s, not killed at once).
    expect(await stop(d.child, 'SIGTERM')).toBe(0)
    expect(await exited(ev.child, 10_000)).toBe(0)
    expect(await exited(text.child, 10_000)).toBe(0)
  })

  it('the thin CLI loads no controller, netlink, firewall or SQLite module (strace -e openat)', async () => {
    await serve()
    const trace = path.join(tmp, 'openat.txt')
    const opened = (args: string[]): string[] => {
      run('strace', ['-f', '-qq', '-e', 'trace=openat', '-o', trace, process.execPath, BIN, ...args], {
        timeoutMs: 60_000,
      })
      return readFileSync(trace, 'utf8')
        .split('\n')
        .filter((l) => l.includes('openat(') && !/= -\d+ E[A-Z]+/u.test(l))
        .map((l) => /openat\([^,]+, "([^"]+)"/u.exec(l)?.[1] ?? '')
    }
    const heavy =
      /\/(controller|netlink|firewall|sandbox|bridge|portmapper|portallocator|macvlan)\/|better[-_]sqlite3|\/fastify\/|\.node$/u
    process.env.CNM_HOST = `unix://${socketPath}`
    try {
      const thin = opened(['network', 'ls'])
      expect(thin).toContain(BIN)
      expect(thin.filter((f) => heavy.test(f))).toEqual([])
      // The launcher, the bundle and its code cache (which holds a copy of the bundle to check it
      // against): nothing else of cnm's (the version is in the bundle, no package.json is read).
      expect(thin.filter((f) => f.includes('/packages/') || f.includes('/node_modules/'))).toEqual([
        BIN,
        BIN.replace(/cnm\.cjs$/u, 'cnm-main.cjs'),
        BIN.replace(/cnm\.cjs$/u, 'cnm-main.cache'),
      ])
      // The check sees them when they are loaded: in process (--store of a store no daemon holds),
      // SQLite and netlink are.
      const local = opened([
        '--store',
        path.join(tmp, 'other.db'),
        '--sandbox-dir',
        path.join(tmp, 'other-sb'),
        'network',
        'ls',
      ])
      expect(local.some((f) => /better_sqlite3\.node$/u.test(f))).toBe(true)
      expect(local.some((f) => /\/netlink\//u.test(f))).toBe(true)
    } finally {
      delete process.env.CNM_HOST
    }
  })

  it('without root, every command fails with one line, daemon or not', async () => {
    const nobody = (args: string[], env: Record<string, string>): { status: number; stderr: string } =>
      run(
        'setpriv',
        [
          '--reuid=65534',
          '--regid=65534',
          '--clear-groups',
          '--',
          '/usr/bin/env',
          ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
          process.execPath,
          BIN,
          ...args,
        ],
        { check: false, timeoutMs: 60_000 },
      )
    const env = { CNM_HOST: `unix://${socketPath}` }
    rmSync(socketPath, { force: true }) // a stale socket file (root's, 0660) would say "permission denied"
    for (const args of [
      ['network', 'ls'],
      ['network', 'create', 'n'],
      ['serve', '--socket', socketPath],
    ]) {
      const r = nobody(args, env)
      expect(r.status, r.stderr).toBe(1)
      expect(r.stderr).toMatch(
        /^cnm: root is needed: run cnm as root, or start the daemon \(cnm serve\) and join its socket's group cnm .*\(ERR_PERMISSION_DENIED\)\n$/u,
      )
    }
    await serve()
    const r = nobody(['network', 'ls'], env)
    expect(r.status).toBe(1)
    expect(r.stderr).toBe(
      `cnm: permission denied on unix://${socketPath}: root, or membership of the socket's group (cnm), is needed (ERR_PERMISSION_DENIED)\n`,
    )
    // --help and bad input still work anywhere.
    expect(nobody(['--help'], env).status).toBe(0)
    expect(nobody(['network', 'create', 'n', '--subnet', 'bogus'], env).stderr).toContain('ERR_INVALID_ARGUMENT')
  })

  it('serveApi reserves its TCP port in the allocator before binding and releases it on close', async () => {
    const controller = await createController({ storePath: false, sandboxDir })
    const allocator = new PortAllocator({ syncWithOS: false }) // only what serveApi reserved counts
    const lib = path.join(tmp, 'lib.sock')
    await expect(
      serveApi({ controller, socketPath: lib, listen: { host: '127.0.0.1', port: 0 }, allocator }),
    ).rejects.toMatchObject({
      code: 'ERR_INSECURE_TCP',
    })
    const server = await serveApi({
      controller,
      socketPath: lib,
      listen: { host: '127.0.0.1', port: 0 },
      insecureTcp: true,
      allocator,
    })
    try {
      const port = server.tcp?.port ?? 0
      expect(port).toBeGreaterThanOrEqual(allocator.begin)
      expect(() => allocator.requestPort('0.0.0.0', 'tcp', port)).toThrow(
        expect.objectContaining({ code: ERR_PORT_ALREADY_ALLOCATED }),
      )
      expect(await api({ port }, 'GET', '/v1/networks')).toMatchObject({ status: 200, body: [] })
      expect(await api({ socketPath: lib }, 'GET', '/v1/sandboxes')).toMatchObject({ status: 200, body: [] })
      await server.close()
      expect(allocator.requestPort('127.0.0.1', 'tcp', port)).toBe(port) // released
      expect(existsSync(lib)).toBe(false)
    } finally {
      await server.close()
      await controller.close()
    }
  })
})
