import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
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

/** A long-running child, with what it printed so far. */
interface Daemon {
  child: ChildProcess
  out: string
  err: string
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

  /** `ip -j …` in the namespace. */
  ipJson<T = Record<string, unknown>[]>(...args: string[]): T {
    return JSON.parse(this.in('ip', ['-j', ...args]).stdout || '[]') as T
  }

  private spawnDaemon(cmd: string, args: readonly string[]): Daemon {
    const child = spawn('nsenter', this.nsenter(cmd, args), { stdio: ['ignore', 'pipe', 'pipe'] })
    const d: Daemon = { child, out: '', err: '' }
    child.stdout?.on('data', (b) => {
      d.out = (d.out + b).slice(-200_000)
    })
    child.stderr?.on('data', (b) => {
      d.err = (d.err + b).slice(-200_000)
    })
    return d
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
    await waitFor(
      () => d.child.exitCode !== null || this.dockerResult('version').status === 0,
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

  /** A busybox-static image (sh, sleep, ping, wget, httpd, ip) with `/www/index.html`, imported offline. */
  importImage(): void {
    const root = path.join(this.tmp, 'rootfs')
    mkdirSync(path.join(root, 'bin'), { recursive: true })
    mkdirSync(path.join(root, 'www'), { recursive: true })
    copyFileSync('/bin/busybox', path.join(root, 'bin', 'busybox'))
    for (const tool of ['sh', 'sleep', 'ping', 'wget', 'httpd', 'ip', 'cat', 'timeout', 'nslookup'])
      symlinkSync('busybox', path.join(root, 'bin', tool))
    writeFileSync(path.join(root, 'www', 'index.html'), 'hello from cnm\n')
    const tar = path.join(this.tmp, 'rootfs.tar')
    const r = spawnSync('tar', ['-C', root, '-cf', tar, '.'])
    if (r.status !== 0) throw new Error(`tar: ${r.stderr}`)
    this.docker('import', tar, IMAGE)
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
