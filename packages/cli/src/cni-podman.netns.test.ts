import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { busyboxRootfsTar, type NamespaceHolder, type Out, startNamespaceHolder } from '@cnm/cni/testing'
import { describeKernel, hasProgram } from '@cnm/netlink/testing'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { BIN, stop } from './test/cnm.js'

/**
 * Podman 4.3 (Debian) with `network_backend = "cni"` and a conflist of `"type": "cnm"`: everything
 * runs inside a throwaway network and mount namespace (a holder process made by `unshare`, entered
 * with `nsenter`), with tmpfs on /run (the daemon's default socket, podman's run files, the
 * attachments' binds) and on /var/lib/cni (podman 4.3's fixed cache directory); podman's storage
 * (vfs), containers.conf and the plugin live in a temporary directory. The plugin finds the daemon
 * on its default socket: no CNM_* variable anywhere (conmon's cleanup runs DEL with almost none).
 */
const podmanMissing = ['podman', 'runc', 'conmon'].find((p) => !hasProgram(p))

describeKernel('Podman 4.3 runs containers on cnm through the CNI plugin', () => {
  let tmp: string
  let holder: NamespaceHolder | undefined
  let daemon: ChildProcess | undefined
  const pid = (): string => String(holder?.pid)
  const inNs = (cmd: string, args: string[], env: Record<string, string> = {}): Out =>
    (holder as NamespaceHolder).run(cmd, args, env)
  const must = (cmd: string, args: string[], env: Record<string, string> = {}): string =>
    (holder as NamespaceHolder).must(cmd, args, env)
  const conf = (reservation: boolean): string => path.join(tmp, `containers-${reservation}.conf`)
  const podman = (args: string[], reservation = false): Out =>
    inNs(
      'podman',
      ['--root', path.join(tmp, 'root'), '--runroot', path.join(tmp, 'runroot'), '--storage-driver', 'vfs', ...args],
      {
        CONTAINERS_CONF: conf(reservation),
      },
    )
  const runArgs = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024']
  const net = ['--network', 'cnmnet', ...runArgs]
  const res = ['--network', 'cnmres', ...runArgs]
  const httpd = ['localhost/cnm-bb:1', 'httpd', '-f', '-p', '80', '-h', '/www']
  const holderOf = (port: number): string => inNs('ss', ['-Hltnp', `sport = :${port}`]).stdout
  const curl = (url: string): Out => inNs('curl', ['-sS', '-m', '3', url])
  const waitFor = async (what: string, ok: () => boolean, ms = 60_000): Promise<void> => {
    const deadline = Date.now() + ms
    while (!ok()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  const links = (): string[] =>
    (JSON.parse(must('ip', ['-j', 'link', 'show'])) as { ifname: string }[]).map((l) => l.ifname)

  beforeAll(async () => {
    if (podmanMissing)
      throw new Error(`this test needs ${podmanMissing} (scripts/setup.sh installs podman, runc and conmon)`)
    tmp = mkdtempSync(path.join(tmpdir(), 'cnm-podman-'))
    holder = await startNamespaceHolder({ mount: true })
    must('mount', ['-t', 'tmpfs', 'cnm-test', '/run'])
    must('mkdir', ['-p', '/var/lib/cni'])
    must('mount', ['-t', 'tmpfs', 'cnm-test', '/var/lib/cni'])
    must('ip', ['link', 'set', 'lo', 'up'])
    // The host's address: one end of a veth pair (a host interface with an address).
    must('ip', ['link', 'add', 'uplink0', 'type', 'veth', 'peer', 'name', 'uplink1'])
    must('ip', ['addr', 'add', '198.51.100.1/24', 'dev', 'uplink0'])
    must('ip', ['link', 'set', 'uplink0', 'up'])
    must('ip', ['link', 'set', 'uplink1', 'up'])

    const bin = path.join(tmp, 'bin')
    const r = spawnSync(process.execPath, [BIN, 'cni', 'install', '--bin-dir', bin], { encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(0)
    const netd = path.join(tmp, 'net.d')
    mkdirSync(netd)
    // Two networks configured alike (no holdPorts anywhere: the CNI path never holds a port with a
    // socket, CNI leaves reservation to the runtime). cnmnet is used with Podman's reservation off,
    // cnmres with it on (Podman's default).
    for (const [name, subnet, options] of [
      ['cnmnet', '10.216.0.0/24', {}],
      ['cnmres', '10.217.0.0/24', {}],
    ] as const) {
      writeFileSync(
        path.join(netd, `${name}.conflist`),
        JSON.stringify({
          cniVersion: '1.0.0',
          name,
          plugins: [
            { type: 'cnm', network: name, subnet, options, capabilities: { portMappings: true, ips: true, mac: true } },
          ],
        }),
      )
    }
    for (const reservation of [false, true]) {
      writeFileSync(
        conf(reservation),
        [
          '[engine]',
          'runtime = "runc"',
          'cgroup_manager = "cgroupfs"',
          'events_logger = "file"',
          `enable_port_reservation = ${reservation}`,
          '[network]',
          'network_backend = "cni"',
          `cni_plugin_dirs = ["${bin}", "/usr/lib/cni"]`,
          `network_config_dir = "${netd}"`,
          '',
        ].join('\n'),
      )
    }
    // An image made offline: busybox-static and its applets, and a page for httpd.
    const tar = busyboxRootfsTar(tmp, ['sh', 'sleep', 'ping', 'httpd', 'ip', 'cat'], {
      'www/index.html': 'hello from podman\n',
    })
    const imported = podman(['import', tar, 'localhost/cnm-bb:1'])
    expect(imported.status, imported.stderr).toBe(0)

    // The daemon, on its default socket (/run/cnm/cnm.sock, in the tmpfs), with its own store.
    daemon = spawn(
      'nsenter',
      [
        '-t',
        pid(),
        '-n',
        '-m',
        '--',
        process.execPath,
        BIN,
        '--store',
        path.join(tmp, 'cnm.db'),
        'serve',
        '--log-level',
        'warn',
      ],
      {
        stdio: 'ignore',
      },
    )
    await waitFor('the daemon', () => inNs('test', ['-S', '/run/cnm/cnm.sock']).status === 0)
  }, 300_000)

  afterAll(async () => {
    if (holder?.pid) {
      for (const reservation of [false, true]) podman(['rm', '-af', '-t', '0'], reservation)
    }
    if (daemon) await stop(daemon, 'SIGTERM')
    holder?.stop()
    if (tmp) rmSync(tmp, { recursive: true, force: true })
  }, 300_000)

  it('two containers ping each other; -p answers on the host address and 127.0.0.1 with either reservation setting; rm -f leaves nothing; a port a host process holds fails podman run clearly', async () => {
    const c1 = podman([
      'run',
      '-d',
      '--name',
      'c1',
      ...net,
      '--cap-add',
      'NET_RAW',
      'localhost/cnm-bb:1',
      'sleep',
      '600',
    ])
    expect(c1.status, c1.stderr).toBe(0)
    const c2 = podman(['run', '-d', '--name', 'c2', ...net, 'localhost/cnm-bb:1', 'sleep', '600'])
    expect(c2.status, c2.stderr).toBe(0)
    // podman inspect shows the address: the result's interface has sandbox and mac, each IP its index.
    const ip2 = podman([
      'inspect',
      'c2',
      '--format',
      '{{(index .NetworkSettings.Networks "cnmnet").IPAddress}}',
    ]).stdout.trim()
    expect(ip2).toMatch(/^10\.216\.0\.\d+$/u)
    const ping = podman(['exec', 'c1', 'ping', '-c', '1', '-W', '3', ip2])
    expect(ping.status, ping.stdout + ping.stderr).toBe(0)

    // Podman's reservation off: nobody holds 8080 with a socket (cnm never does on the CNI path),
    // and DNAT delivers.
    const web = podman(['run', '-d', '--name', 'web', '-p', '8080:80', ...net, ...httpd])
    expect(web.status, web.stderr).toBe(0)
    await waitFor('httpd through the published port', () => curl('http://198.51.100.1:8080/').status === 0)
    expect(curl('http://198.51.100.1:8080/').stdout).toBe('hello from podman\n')
    expect(curl('http://127.0.0.1:8080/').stdout).toBe('hello from podman\n')
    expect(holderOf(8080)).toBe('')
    // Podman's reservation on (its default), with no option set anywhere: Podman holds the port
    // (through conmon), cnm does not, and the container answers.
    const webres = podman(['run', '-d', '--name', 'webres', '-p', '8081:80', ...res, ...httpd], true)
    expect(webres.status, webres.stderr).toBe(0)
    await waitFor('httpd through the port Podman reserved', () => curl('http://198.51.100.1:8081/').status === 0)
    expect(curl('http://127.0.0.1:8081/').stdout).toBe('hello from podman\n')
    expect(holderOf(8081)).toContain('8081')
    expect(holderOf(8081)).not.toContain('"node"')

    const rm = podman(['rm', '-f', '-t', '0', 'c1', 'c2', 'web'])
    expect(rm.status, rm.stderr).toBe(0)
    expect(podman(['rm', '-f', '-t', '0', 'webres'], true).status).toBe(0)
    await waitFor('the veths to go', () => !links().some((l) => l.startsWith('veth')), 10_000)
    const rules = must('nft', ['list', 'ruleset'])
    expect(rules).not.toContain('8080')
    expect(rules).not.toContain('8081')
    expect(holderOf(8080) + holderOf(8081)).toBe('')
    expect(inNs('ls', ['-A', '/run/cnm/cni']).stdout.trim()).toBe('')

    // A host process listens on the port: cnm refuses it (never takes it over), with either setting.
    const squatter = spawn(
      'nsenter',
      ['-t', pid(), '-n', '-m', '--', '/bin/busybox', 'httpd', '-f', '-p', '8080', '-h', tmp],
      {
        stdio: 'ignore',
      },
    )
    try {
      await waitFor('the host process on 8080', () => holderOf(8080).includes('8080'))
      for (const [reservation, network] of [
        [false, net],
        [true, res],
      ] as const) {
        const refused = podman(
          ['run', '-d', '--name', `taken${reservation}`, '-p', '8080:80', ...network, ...httpd],
          reservation,
        )
        expect(refused.status).not.toBe(0)
        expect(refused.stderr).toMatch(/Bind for 0\.0\.0\.0:8080 failed: port is already allocated/u)
      }
      expect(holderOf(8080)).toContain('busybox')
    } finally {
      squatter.kill('SIGKILL')
    }
    podman(['rm', '-af', '-t', '0'])
    podman(['rm', '-af', '-t', '0'], true)
    expect(links().filter((l) => l.startsWith('veth'))).toEqual([])
    expect(must('nft', ['list', 'ruleset'])).not.toContain('8080')
    expect(inNs('ls', ['-A', '/run/cnm/cni']).stdout.trim()).toBe('')
  }, 600_000)
})
