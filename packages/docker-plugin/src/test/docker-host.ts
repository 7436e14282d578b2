import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import {
  closeSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** The `cnm` binary as built (`pnpm build` first): the bundle of `@cnm/cli`. */
export const CNM_BIN = fileURLToPath(new URL('../../../cli/dist/cnm.cjs', import.meta.url))
/** Debian's docker CLI, the daemon's own version (a newer one on PATH talks to it as well). */
export const DOCKER = '/usr/bin/docker'
export const IMAGE = 'cnm-test/busybox'
const DOCKER_SOCK = '/run/cnm-docker/docker.sock'
export const CNM_SOCK = '/run/cnm-docker/cnm.sock'
/** The plugin's socket, where dockerd finds it (inside the test's mount namespace). */
export const PLUGIN_SOCK = '/run/docker/plugins/cnm.sock'
/** The "host's own address", on a veth of the test's namespace (`cnmt-up0`). */
export const HOST_IP = '198.51.100.1'
/** What the image's httpd serves (`/www/index.html`). */
export const HELLO = 'hello from cnm\n'

/** A published port, as `cnm port ls --json` lists it. */
export interface CnmPort {
  network: string
  endpoint: string
  containerIP: string
  containerPort: number
  hostIP: string
  hostPort: number
  proto: string
}

/** A network, as `cnm network ls --json` lists it. */
export interface CnmNetwork {
  id: string
  name: string
  device: string
  subnet: string
  gateway: string
  endpoints: { name: string; ipv4: string; macAddress: string; aliases?: string[] }[]
}

/** What a tool this test needs but the machine lacks (`scripts/setup.sh` installs them). */
export function missingTools(): string | undefined {
  for (const f of ['/usr/sbin/dockerd', DOCKER, '/bin/busybox', '/usr/bin/unshare', '/usr/bin/nsenter']) {
    if (spawnSync('test', ['-x', f]).status !== 0) return `${f} (run scripts/setup.sh)`
  }
  if (spawnSync('test', ['-f', CNM_BIN]).status !== 0) return `${CNM_BIN} (run pnpm build)`
  return undefined
}

export interface Result {
  status: number
  stdout: string
  stderr: string
}

/** A long-running child, with what it printed so far (the end of its stdout and stderr files). */
interface Daemon {
  child: ChildProcess
  readonly out: string
  readonly err: string
}

export function waitFor(check: () => boolean, what: () => string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (check()) resolve()
      else if (Date.now() > end) reject(new Error(`timed out waiting for ${what()}`))
      else setTimeout(tick, 100)
    }
    tick()
  })
}

function exited(child: ChildProcess, ms = 30_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL')
      resolve()
    }, ms)
    child.once('exit', () => {
      clearTimeout(t)
      resolve()
    })
  })
}

/**
 * A throwaway "host" for dockerd and the cnm daemon: a network namespace and a mount namespace of
 * their own (held by a `sleep` started with `unshare`), with a private tmpfs on `/run`, so dockerd
 * finds only this test's plugin socket in `/run/docker/plugins` and nothing touches the machine's
 * network or files. Every program runs in it through `nsenter`, with argument arrays. Data lives in
 * a temporary directory; `close()` stops everything it started, by process id, and removes it.
 */
export class DockerHost {
  readonly tmp: string
  private holder: ChildProcess
  private dockerd: Daemon | undefined
  private cnmd: Daemon | undefined
  private readonly netnsId: string
  private spawned = 0

  private constructor(tmp: string, holder: ChildProcess, netnsId: string) {
    this.tmp = tmp
    this.holder = holder
    this.netnsId = netnsId
  }

  static async create(): Promise<DockerHost> {
    const tmp = mkdtempSync(path.join(tmpdir(), 'cnm-docker-'))
    const holder = spawn('unshare', ['--net', '--mount', '--propagation', 'private', '--', 'sleep', 'infinity'], {
      stdio: 'ignore',
    })
    const mine = readlinkSync('/proc/self/ns/net')
    let ns = mine
    await waitFor(
      () => {
        try {
          ns = readlinkSync(`/proc/${holder.pid}/ns/net`)
        } catch {}
        return ns !== mine
      },
      () => 'the namespace holder',
    )
    const host = new DockerHost(tmp, holder, ns)
    host.in('mount', ['-t', 'tmpfs', '-o', 'mode=0755', 'tmpfs', '/run'])
    host.in('mkdir', ['-p', '/run/docker/plugins', '/run/cnm-docker'])
    host.in('ip', ['link', 'set', 'lo', 'up'])
    return host
  }

  /**
   * The host both Docker test files start from: the namespaces, an "uplink" veth holding
   * {@link HOST_IP}, the cnm daemon and dockerd started side by side (dockerd looks for the plugin
   * only when a `-d cnm` network is used), and the busybox image imported.
   */
  static async start(logLevel: 'warn' | 'debug' = 'warn'): Promise<DockerHost> {
    const missing = missingTools()
    if (missing) throw new Error(`this test needs ${missing}`)
    const h = await DockerHost.create()
    try {
      h.in('ip', ['link', 'add', 'cnmt-up0', 'type', 'veth', 'peer', 'name', 'cnmt-up1'])
      h.in('ip', ['addr', 'add', `${HOST_IP}/24`, 'dev', 'cnmt-up0'])
      for (const l of ['cnmt-up0', 'cnmt-up1']) h.in('ip', ['link', 'set', l, 'up'])
      const tar = h.busyboxTar() // while the daemons start
      await Promise.all([h.startCnm(logLevel), h.startDockerd()])
      h.docker('import', tar, IMAGE)
    } catch (err) {
      await h.close()
      throw err
    }
    return h
  }

  private nsenter(cmd: string, args: readonly string[]): string[] {
    return ['-t', String(this.holder.pid), '--net', '--mount', '--', cmd, ...args]
  }

  /** Runs a program in the namespaces; throws on failure unless `check: false`. */
  in(
    cmd: string,
    args: readonly string[],
    opts: { check?: boolean; env?: Record<string, string>; timeout?: number } = {},
  ): Result {
    const r = spawnSync('nsenter', this.nsenter(cmd, args), {
      encoding: 'utf8',
      timeout: opts.timeout ?? 120_000,
      env: { ...process.env, ...opts.env },
    })
    if (r.error) throw r.error
    const res = { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
    if (res.status !== 0 && opts.check !== false) {
      throw new Error(`${cmd} ${args.join(' ')} exited ${res.status}: ${res.stderr}${res.stdout}`)
    }
    return res
  }

  /** The same, without blocking the test (for commands run side by side). */
  inAsync(cmd: string, args: readonly string[]): Promise<Result> {
    return new Promise((resolve, reject) => {
      const child = spawn('nsenter', this.nsenter(cmd, args), { stdio: ['ignore', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (d) => {
        stdout += d
      })
      child.stderr.on('data', (d) => {
        stderr += d
      })
      child.once('error', reject)
      child.once('close', (code) => resolve({ status: code ?? -1, stdout, stderr }))
    })
  }

  /** A program that keeps printing (`curl` of the event stream): its stdout and stderr so far, and a stop. */
  stream(cmd: string, args: readonly string[]): { text: () => string; stop: () => Promise<void> } {
    const child = spawn('nsenter', this.nsenter(cmd, args), { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    const add = (d: Buffer): void => {
      out += d
    }
    child.stdout.on('data', add)
    child.stderr.on('data', add)
    return {
      text: () => out,
      stop: async () => {
        child.kill('SIGTERM')
        await exited(child)
      },
    }
  }

  docker(...args: string[]): string {
    return this.in(DOCKER, ['-H', `unix://${DOCKER_SOCK}`, ...args]).stdout.trim()
  }

  dockerResult(...args: string[]): Result {
    return this.in(DOCKER, ['-H', `unix://${DOCKER_SOCK}`, ...args], { check: false })
  }

  dockerAsync(...args: string[]): Promise<Result> {
    return this.inAsync(DOCKER, ['-H', `unix://${DOCKER_SOCK}`, ...args])
  }

  /** `docker inspect` of one object, parsed. */
  inspect<T = Record<string, unknown>>(...args: string[]): T {
    return (JSON.parse(this.docker(...args)) as T[])[0] as T
  }

  /** The thin `cnm` command, through the daemon. */
  cnm(...args: string[]): string {
    return this.in(process.execPath, [CNM_BIN, ...args], { env: { CNM_HOST: `unix://${CNM_SOCK}` } }).stdout
  }

  cnmJSON<T>(...args: string[]): T {
    return JSON.parse(this.cnm(...args, '--json')) as T
  }

  /** A container's address on a network, as dockerd shows it. */
  ipOf(ctr: string, net: string): string {
    return this.docker('inspect', '--format', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, ctr)
  }

  /** The cnm network made for a Docker network (`docker-<id>`), as `cnm network ls` lists it. */
  cnmNetwork(dockerId: string): CnmNetwork | undefined {
    return this.cnmJSON<CnmNetwork[]>('network', 'ls').find((n) => n.name === `docker-${dockerId}`)
  }

  /** `cnm port ls`. */
  cnmPorts(): CnmPort[] {
    return this.cnmJSON<CnmPort[]>('port', 'ls')
  }

  /** An HTTP GET with curl from the namespace (5 s at most); its body, empty when it failed. */
  get(url: string): string {
    return this.in('curl', ['-sS', '-m', '5', url], { check: false }).stdout
  }

  /** The sockets listening in the namespace (`ss -Hltnu`). */
  listening(): string {
    return this.in('ss', ['-Hltnu']).stdout
  }

  /** The names of the namespace's links (`ip -j link`). */
  links(): string[] {
    return this.ipJson<{ ifname: string }[]>('link', 'show').map((l) => l.ifname)
  }

  /** A busybox httpd container serving {@link HELLO} on port 80 (`args`: its networks, ports, …). */
  web(name: string, ...args: string[]): string {
    return this.docker('run', '-d', '--name', name, ...args, IMAGE, 'httpd', '-f', '-p', '80', '-h', '/www')
  }

  /** `ip -j …` in the namespace. */
  ipJson<T = Record<string, unknown>[]>(...args: string[]): T {
    return JSON.parse(this.in('ip', ['-j', ...args]).stdout || '[]') as T
  }

  /**
   * A daemon whose output goes to files in the test's directory, not to pipes: a test body is
   * synchronous (spawnSync), so nothing would read a pipe meanwhile, and a daemon that filled one
   * would block on its next log line, and with it the command the test waits for.
   */
  private spawnDaemon(cmd: string, args: readonly string[]): Daemon {
    const base = path.join(this.tmp, `${path.basename(cmd)}-${++this.spawned}`)
    const [outFd, errFd] = [`${base}.out`, `${base}.err`].map((f) => openSync(f, 'wx', 0o600))
    try {
      const child = spawn('nsenter', this.nsenter(cmd, args), { stdio: ['ignore', outFd, errFd] })
      const tail = (f: string): string => {
        try {
          return readFileSync(f, 'utf8').slice(-200_000)
        } catch {
          return ''
        }
      }
      return {
        child,
        get out() {
          return tail(`${base}.out`)
        },
        get err() {
          return tail(`${base}.err`)
        },
      }
    } finally {
      for (const fd of [outFd, errFd]) if (fd !== undefined) closeSync(fd)
    }
  }

  /** `cnm serve --docker-plugin` (its default plugin socket), ready once it printed both listeners. */
  async startCnm(logLevel: 'warn' | 'debug' = 'warn'): Promise<void> {
    const d = this.spawnDaemon(process.execPath, [
      CNM_BIN,
      '--store',
      path.join(this.tmp, 'cnm.db'),
      '--sandbox-dir',
      '/run/cnm-docker/sb',
      'serve',
      '--socket',
      CNM_SOCK,
      '--docker-plugin',
      '--log-level',
      logLevel,
    ])
    this.cnmd = d
    await waitFor(
      () => d.out.includes('docker plugin on unix:/run/docker/plugins/cnm.sock\n') || d.child.exitCode !== null,
      () => `cnm serve: ${d.err}`,
    )
    if (d.child.exitCode !== null) throw new Error(`cnm serve exited ${d.child.exitCode}: ${d.err}`)
  }

  /** Stops the cnm daemon (SIGKILL: as a crash). */
  async stopCnm(signal: NodeJS.Signals = 'SIGTERM'): Promise<string> {
    const d = this.cnmd
    this.cnmd = undefined
    if (!d) return ''
    d.child.kill(signal)
    await exited(d.child)
    return d.err
  }

  /** What the cnm daemon printed (stdout, then its log on stderr). */
  cnmLog(): string {
    return `${this.cnmd?.out ?? ''}${this.cnmd?.err ?? ''}`
  }

  /** dockerd 20.10 with everything under the test's directories, cnm owning the firewall. */
  async startDockerd(): Promise<void> {
    const d = this.spawnDaemon('/usr/sbin/dockerd', [
      '--data-root',
      path.join(this.tmp, 'docker'),
      '--exec-root',
      '/run/cnm-docker/dx',
      '-H',
      `unix://${DOCKER_SOCK}`,
      '--pidfile',
      '/run/cnm-docker/docker.pid',
      '--iptables=false',
      '--ip6tables=false',
      '--userland-proxy=false',
      '--bridge=none',
      '--storage-driver',
      'vfs',
    ])
    this.dockerd = d
    // Polled over its socket, seen through the holder's root (the test's private /run): an HTTP
    // request every 100 ms instead of a docker CLI process each time.
    const sock = `/proc/${this.holder.pid}/root${DOCKER_SOCK}`
    let up = false
    const poll = (): void => {
      const req = request({ socketPath: sock, path: '/_ping', timeout: 2000 }, (res) => {
        up = res.statusCode === 200
        res.resume()
      })
      req.on('error', () => undefined)
      req.on('timeout', () => req.destroy())
      req.end()
    }
    await waitFor(
      () => {
        if (!up) poll()
        return d.child.exitCode !== null || up
      },
      () => `dockerd: ${d.err.slice(-3000)}`,
      90_000,
    )
    if (d.child.exitCode !== null) throw new Error(`dockerd exited ${d.child.exitCode}: ${d.err.slice(-3000)}`)
  }

  async stopDockerd(): Promise<void> {
    const d = this.dockerd
    this.dockerd = undefined
    if (!d) return
    d.child.kill('SIGTERM')
    await exited(d.child, 60_000)
  }

  /**
   * The tar of a busybox-static root filesystem (sh, sleep, ping, wget, httpd, ip, …) with
   * `/www/index.html`, made in the test's directory: {@link IMAGE}, imported offline.
   */
  private busyboxTar(): string {
    const root = path.join(this.tmp, 'rootfs')
    mkdirSync(path.join(root, 'bin'), { recursive: true })
    mkdirSync(path.join(root, 'www'), { recursive: true })
    copyFileSync('/bin/busybox', path.join(root, 'bin', 'busybox'))
    for (const tool of ['sh', 'sleep', 'ping', 'wget', 'httpd', 'ip', 'cat', 'timeout', 'nslookup'])
      symlinkSync('busybox', path.join(root, 'bin', tool))
    writeFileSync(path.join(root, 'www', 'index.html'), HELLO)
    const tar = path.join(this.tmp, 'rootfs.tar')
    const r = spawnSync('tar', ['-C', root, '-cf', tar, '.'])
    if (r.status !== 0) throw new Error(`tar: ${r.stderr}`)
    return tar
  }

  /** Processes still in the test's network namespace, besides the holder. */
  private stragglers(): number[] {
    const out: number[] = []
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/u.test(entry) || Number(entry) === this.holder.pid) continue
      try {
        if (readlinkSync(`/proc/${entry}/ns/net`) === this.netnsId) out.push(Number(entry))
      } catch {}
    }
    return out
  }

  /**
   * Removes every container (so no shim outlives dockerd), stops both daemons, kills whatever is
   * still in the namespace (by pid: all of it this test's), then the holder; the namespaces go with it.
   */
  async close(): Promise<void> {
    if (this.dockerd) {
      const ids = this.dockerResult('ps', '-aq').stdout.split('\n').filter(Boolean)
      if (ids.length > 0) this.dockerResult('rm', '-f', ...ids)
    }
    await this.stopDockerd()
    await this.stopCnm()
    for (const pid of this.stragglers()) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {}
    }
    this.holder.kill('SIGKILL')
    await exited(this.holder)
    rmSync(this.tmp, { recursive: true, force: true })
  }
}
