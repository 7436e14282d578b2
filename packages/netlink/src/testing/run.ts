import { spawnSync } from 'node:child_process'

/** Options of {@link run} and {@link ipJson}. */
export interface RunOptions {
  /** Run inside the network namespace bound at this path (through `nsenter --net=`). */
  netns?: string
  /** Text for the program's standard input. */
  input?: string
  /** Throw when the program exits non-zero (default true). */
  check?: boolean
  /** Kills the program after this many milliseconds (default 30000); the call then throws. */
  timeoutMs?: number
}

/**
 * What a program run by {@link run} gave: its exit status (-1 when it was killed by a signal) and
 * its output as text.
 */
export interface RunResult {
  status: number
  stdout: string
  stderr: string
}

/**
 * Runs a program with an argument array (never a shell), in the calling thread's namespace or in
 * the one bound at `options.netns`. Test code only: library code never spawns `ip`.
 */
export function run(cmd: string, args: readonly string[], options: RunOptions = {}): RunResult {
  const [file, argv] = options.netns ? ['nsenter', [`--net=${options.netns}`, '--', cmd, ...args]] : [cmd, [...args]]
  const res = spawnSync(file, argv, {
    input: options.input,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 30_000,
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  if (res.error) throw new Error(`${cmd} ${args.join(' ')}: ${res.error.message}`, { cause: res.error })
  const out = { status: res.status ?? -1, stdout: res.stdout ?? '', stderr: res.stderr ?? '' }
  if ((options.check ?? true) && out.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${out.status}: ${out.stderr.trim()}`)
  }
  return out
}

/** Runs `ip -j ...` and parses its JSON. */
export function ipJson<T = Record<string, unknown>[]>(args: readonly string[], options: RunOptions = {}): T {
  const { stdout } = run('ip', ['-j', ...args], options)
  return JSON.parse(stdout.trim() || '[]') as T
}

const VERSION_FLAG: Record<string, string> = { ip: '-V', ping: '-V' }

/** True when `cmd` is installed and starts (`cmd --version`, or `ip -V`, exits 0). */
export function hasProgram(cmd: string): boolean {
  const res = spawnSync(cmd, [VERSION_FLAG[cmd] ?? '--version'], { stdio: 'ignore' })
  return !res.error && res.status === 0
}
