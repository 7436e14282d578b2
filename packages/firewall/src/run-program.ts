import { spawn } from 'node:child_process'

/** What a finished program left. `error` is set when it could not be started at all. */
export interface ExecResult {
  status: number
  stdout: string
  stderr: string
  error?: Error
}

/**
 * Runs `file` with an argument array (never a shell), feeding `input` on stdin. The child starts in
 * the network namespace of the calling (main) thread. Never rejects: the caller reads `status`.
 */
export function runProgram(
  file: string,
  args: readonly string[],
  input?: string,
  timeoutMs = 60_000,
): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = spawn(file, [...args], { stdio: ['pipe', 'pipe', 'pipe'], timeout: timeoutMs })
    const out: Buffer[] = []
    const err: Buffer[] = []
    let startError: Error | undefined
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    child.on('error', (e) => {
      startError = e
    })
    child.stdin.on('error', () => {}) // a program that exits early closes its stdin: its status says why
    child.on('close', (code, signal) => {
      resolve({
        status: code ?? (signal ? 128 : -1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8') || (signal ? `killed by ${signal}` : ''),
        ...(startError ? { error: startError } : {}),
      })
    })
    child.stdin.end(input ?? '')
  })
}
