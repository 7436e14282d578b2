// Runs a program with an argument array (never a shell), optionally inside a network namespace:
// the main thread switches into it only for the synchronous spawn, so the child is born there.
import { type ChildProcess, spawn } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import path from 'node:path'
import { ensureThreadPool, withNetnsSync } from '@cnm/netlink'

const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/local/bin', '/usr/bin', '/bin']
/** The PATH children get: the caller's, then the sbin directories (Debian puts `ip`, `iptables` there). */
export const CHILD_PATH = [...new Set([...(process.env.PATH ?? '').split(':').filter(Boolean), ...SBIN_DIRS])].join(':')
export const DEFAULT_TIMEOUT_MS = 60_000

export interface RunOptions {
  /** The whole environment of the child. Default: {@link childEnv}(). */
  env?: NodeJS.ProcessEnv
  /** Written to the child's stdin (then closed). */
  input?: string
  /** Resolve on a non-zero exit instead of rejecting. */
  allowFail?: boolean
  timeoutMs?: number
  /** A bound network namespace (a file) the child runs in. Default: the caller's. */
  netns?: string
}

export interface RunResult {
  exitCode: number
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** A non-zero exit; carries what the child printed. */
export class ProcessError extends Error {
  readonly result: RunResult
  constructor(message: string, result: RunResult) {
    super(message)
    this.name = 'ProcessError'
    this.result = result
  }
}

/** `process.env` with {@link CHILD_PATH} and `extra` on top. */
export function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, PATH: CHILD_PATH, ...extra }
}

export function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** The first executable `name` on {@link CHILD_PATH}. */
export function which(name: string): string | undefined {
  for (const dir of CHILD_PATH.split(':')) {
    const p = path.join(dir, name)
    if (isExecutable(p)) return p
  }
  return undefined
}

/** Spawns `file` in `netns` (or here). Nothing asynchronous runs during the switch: spawn() forks synchronously. */
export async function spawnIn(
  netns: string | undefined,
  file: string,
  args: readonly string[],
  options: Parameters<typeof spawn>[2],
): Promise<ChildProcess> {
  await ensureThreadPool() // pool threads created during a switch would stay in the namespace
  const start = (): ChildProcess => spawn(file, args, options)
  return netns ? withNetnsSync(netns, start) : start()
}

/**
 * Runs `file args` and resolves with its exit code and output. Rejects with a
 * {@link ProcessError} on a non-zero exit (unless `allowFail`), on a spawn error, or after
 * `timeoutMs` (the child, and only it, is killed).
 */
export async function run(file: string, args: readonly string[] = [], options: RunOptions = {}): Promise<RunResult> {
  const { env = childEnv(), input, allowFail = false, timeoutMs = DEFAULT_TIMEOUT_MS, netns } = options
  const child = await spawnIn(netns, file, args, { env, stdio: ['pipe', 'pipe', 'pipe'] })
  return new Promise((resolve, reject) => {
    const out: Buffer[] = []
    const errOut: Buffer[] = []
    let settled = false
    const timer = setTimeout(() => {
      if (settled) return
      settled = true
      child.kill('SIGKILL')
      reject(new Error(`${file} ${args.join(' ')}: timed out after ${timeoutMs} ms`))
    }, timeoutMs)
    child.stdout?.on('data', (d: Buffer) => out.push(d))
    child.stderr?.on('data', (d: Buffer) => errOut.push(d))
    child.stdin?.on('error', () => {}) // EPIPE when the child exits without reading
    child.on('error', (err) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      reject(err)
    })
    child.on('close', (code, signal) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      const result: RunResult = {
        exitCode: code ?? -1,
        signal,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(errOut).toString(),
      }
      if (result.exitCode !== 0 && !allowFail) {
        const detail = (result.stderr.trim() || result.stdout.trim()).slice(-2000)
        reject(
          new ProcessError(
            `${path.basename(file)} ${args.join(' ')} exited ${signal ?? result.exitCode}: ${detail}`,
            result,
          ),
        )
        return
      }
      resolve(result)
    })
    child.stdin?.end(input ?? '')
  })
}
