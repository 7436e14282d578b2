// dockerd for a benchmark (Debian's docker.io, 20.10): its files under the caller's directories,
// ready once `docker version` answers on its own socket, stopped by its process id; and a
// busybox-static image made offline (`docker import` of a small root filesystem).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import {
  closeSync,
  constants,
  copyFileSync,
  mkdirSync,
  openSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import path from 'node:path'
import { childEnv } from './run.js'

export const DOCKERD = '/usr/sbin/dockerd'
/** Debian's docker CLI, the daemon's own version (a newer one on PATH talks to it as well). */
export const DOCKER = '/usr/bin/docker'

export interface DockerdOptions {
  /** Names its files: socket `<runDir>/<name>.sock`, exec root `<runDir>/<name>`, data root `<dataDir>/<name>`. */
  name: string
  /** A directory on the caller's private `/run` (a tmpfs of its throwaway mount namespace). */
  runDir: string
  /** A temporary directory the caller removes (after {@link Dockerd.stop}). */
  dataDir: string
  /** dockerd's own flags (e.g. `--iptables=false --bridge=none`); none: Docker's defaults. */
  args?: readonly string[]
  /** In a new network namespace of its own (`unshare --net`): its docker0 and iptables rules stay there. */
  ownNetns?: boolean
  /** How long it may take to answer (default 90 s). */
  timeoutMs?: number
}

export interface Dockerd {
  readonly name: string
  readonly socket: string
  /** The daemon's process id (for its CPU time in `/proc/PID/stat`). */
  readonly pid: number
  /** The docker CLI's program and arguments for a command on this daemon. */
  cli(...args: string[]): [string, string[]]
  /** Runs a docker command on this daemon; its trimmed stdout. Throws on failure. */
  docker(...args: string[]): string
  /**
   * The end of what it logged. Its log goes to `<dataDir>/<name>.log`, never to a pipe: a pipe that
   * nobody reads while the caller waits in `spawnSync` for a docker command fills up, and dockerd,
   * blocked writing its log, never answers that command.
   */
  log(): string
  /** SIGTERM (SIGKILL after 30 s), waits for the exit, unmounts what it left under its data root. */
  stop(): Promise<void>
}

function exited(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), ms)
    child.once('exit', () => {
      clearTimeout(t)
      resolve()
    })
  })
}

/** Lazily unmounts every mount under `dir`, deepest first. */
function unmountUnder(dir: string): void {
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .reverse()
  for (const m of mounts) spawnSync('umount', ['-l', m], { env: childEnv() })
}

/** Starts dockerd with `--storage-driver vfs` (overlayfs does not nest here) and waits until it answers. */
export async function startDockerd(options: DockerdOptions): Promise<Dockerd> {
  const { name, runDir, dataDir, args = [], ownNetns = false, timeoutMs = 90_000 } = options
  if (!/^[a-z0-9][a-z0-9-]{0,30}$/u.test(name))
    throw new Error(`dockerd name ${JSON.stringify(name)} is not a plain name`)
  const socket = path.join(runDir, `${name}.sock`)
  const dataRoot = path.join(dataDir, name)
  const argv = [
    DOCKERD,
    '--data-root',
    dataRoot,
    '--exec-root',
    path.join(runDir, name),
    '-H',
    `unix://${socket}`,
    '--pidfile',
    path.join(runDir, `${name}.pid`),
    '--storage-driver',
    'vfs',
    ...args,
  ]
  const [cmd, ...rest] = ownNetns ? ['unshare', '--net', '--', ...argv] : argv
  const logFile = path.join(dataDir, `${name}.log`)
  const logFd = openSync(
    logFile,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  )
  let child: ChildProcess
  try {
    child = spawn(cmd as string, rest, { stdio: ['ignore', logFd, logFd], env: childEnv() })
  } finally {
    closeSync(logFd) // the child has its own copy
  }
  let failure = ''
  child.once('error', (err) => {
    failure = `\n${err.message}`
  })
  const log = (): string => {
    try {
      return readFileSync(logFile, 'utf8').slice(-8000) + failure
    } catch {
      return failure
    }
  }
  const cli = (...a: string[]): [string, string[]] => [DOCKER, ['-H', `unix://${socket}`, ...a]]
  const stop = async (): Promise<void> => {
    child.kill('SIGTERM')
    await exited(child, 30_000)
    unmountUnder(dataRoot)
  }
  const d: Dockerd = {
    name,
    socket,
    pid: child.pid ?? -1,
    cli,
    docker(...a) {
      const r = spawnSync(...cli(...a), { encoding: 'utf8', env: childEnv() })
      if (r.error) throw r.error
      if (r.status !== 0) throw new Error(`docker ${a.join(' ')} (${name}): ${r.stderr || r.stdout}`)
      return r.stdout.trim()
    },
    log,
    stop,
  }
  const end = Date.now() + timeoutMs
  while (spawnSync(...cli('version'), { stdio: 'ignore' }).status !== 0) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > end) {
      await stop()
      throw new Error(`dockerd ${name} did not come up: ${log().slice(-3000)}`)
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  return d
}

export interface BusyboxImageOptions {
  /** The applets linked in `/bin` (default `sh`, `sleep`). */
  tools?: readonly string[]
  /** Files to add, by path inside the image (`www/index.html` → its text). */
  files?: Readonly<Record<string, string>>
}

/** A tar of a root filesystem holding `/bin/busybox` (busybox-static) and its applets, made in `dir`. */
export function busyboxRootfs(dir: string, options: BusyboxImageOptions = {}): string {
  const { tools = ['sh', 'sleep'], files = {} } = options
  const root = path.join(dir, 'rootfs')
  mkdirSync(path.join(root, 'bin'), { recursive: true })
  copyFileSync('/bin/busybox', path.join(root, 'bin', 'busybox'))
  for (const tool of tools) symlinkSync('busybox', path.join(root, 'bin', path.basename(tool)))
  for (const [file, text] of Object.entries(files)) {
    const target = path.join(root, path.normalize(file).replace(/^(\.\.(\/|$))+/u, ''))
    mkdirSync(path.dirname(target), { recursive: true })
    writeFileSync(target, text, { flag: 'wx' })
  }
  const tar = path.join(dir, 'rootfs.tar')
  const r = spawnSync('tar', ['-C', root, '-cf', tar, '.'], { encoding: 'utf8', env: childEnv() })
  if (r.status !== 0) throw new Error(`tar: ${r.stderr}`)
  return tar
}
