import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { expect } from 'vitest'

/** The built binary the tests run, as installed (`pnpm run build` first): the bundle. */
export const BIN = fileURLToPath(new URL('../../dist/cnm.cjs', import.meta.url))

export interface CnmResult {
  status: number
  stdout: string
  stderr: string
}

/** Runs `node dist/bin.js …args` as a child process (argument array, no shell). */
export function cnm(args: readonly string[], env: Record<string, string> = {}): CnmResult {
  const res = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, ...env },
  })
  if (res.error) throw res.error
  return { status: res.status ?? -1, stdout: res.stdout, stderr: res.stderr }
}

/** Runs cnm, expects exit 0 and no error output, returns stdout. */
export function ok(args: readonly string[], env: Record<string, string> = {}): string {
  const res = cnm(args, env)
  expect(res.stderr, `cnm ${args.join(' ')}`).toBe('')
  expect(res.status, `cnm ${args.join(' ')}`).toBe(0)
  return res.stdout
}

/** Runs cnm with `--json` output expected; the parsed value. */
export function okJSON<T = Record<string, unknown>>(args: readonly string[], env: Record<string, string> = {}): T {
  return JSON.parse(ok(args, env)) as T
}

/** Runs cnm, expects a failure: exit `exit`, one line `cnm: … (CODE)` on stderr, nothing on stdout. */
export function fails(args: readonly string[], code: string, exit = 1, env: Record<string, string> = {}): string {
  const res = cnm(args, env)
  expect(res.status, `cnm ${args.join(' ')}: ${res.stderr}`).toBe(exit)
  expect(res.stdout).toBe('')
  expect(res.stderr).toMatch(new RegExp(`^cnm: .+ \\(${code}\\)\\n$`, 'u'))
  return res.stderr
}

/** A `cnm` child that keeps running (`serve`, `events`). */
export interface Started {
  child: ChildProcess
  /** The lines it printed on stdout so far. */
  output: string[]
  /** What it wrote on stderr so far (the daemon's log). */
  logs(): string
}

/**
 * Starts `cnm …args` and resolves once it printed `lines` lines on stdout (or at once with 0).
 * `env` adds to the environment.
 */
export function start(args: readonly string[], lines: number, env: Record<string, string> = {}): Promise<Started> {
  const child = spawn(process.execPath, [BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  })
  return new Promise((resolve, reject) => {
    let out = ''
    let err = ''
    const output: string[] = []
    const started: Started = { child, output, logs: () => err }
    child.stderr?.on('data', (d) => {
      err += d
    })
    child.stdout?.on('data', (d) => {
      out += d
      output.splice(0, output.length, ...out.split('\n').filter(Boolean))
      if (output.length >= lines) resolve(started)
    })
    child.once('exit', (code) => reject(new Error(`cnm ${args.join(' ')} exited ${code}: ${err}${out}`)))
    if (lines === 0) resolve(started)
  })
}

/**
 * Waits up to `ms` for the process to exit on its own and gives its exit code; after that, kills
 * it and gives null (a process that should have ended by itself did not).
 */
export function exited(child: ChildProcess, ms: number): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode)
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      resolve(null)
    }, ms)
    child.once('exit', (code) => {
      clearTimeout(timer)
      resolve(code)
    })
  })
}

/** Sends `signal` and waits for the exit code. */
export function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode)
    child.once('exit', (code) => resolve(code))
    child.kill(signal)
  })
}
