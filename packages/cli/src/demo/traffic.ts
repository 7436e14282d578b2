import { type ChildProcess, spawn } from 'node:child_process'
import { request } from 'node:http'

/** A tiny HTTP server: answers `hello from <name> (you are <peer>)`; exits when its stdin closes. */
const SERVER = `
const http = require('node:http')
const name = process.argv[1]
const server = http.createServer((req, res) => {
  res.end('hello from ' + name + ' (you are ' + req.socket.remoteAddress.replace(/^::ffff:/, '') + ')\\n')
})
server.listen(Number(process.argv[2]), '0.0.0.0', () => process.stdout.write('ready\\n'))
process.stdin.on('end', () => process.exit(0))
process.stdin.resume()
`

/** An HTTP GET that prints the body, or the error code and exits 2. */
const CLIENT = `
const http = require('node:http')
const fail = (e) => { process.stderr.write(String((e && e.code) || e) + '\\n'); process.exit(2) }
const req = http.get(process.argv[1], { timeout: Number(process.argv[2]) }, (res) => {
  let body = ''
  res.on('data', (d) => { body += d })
  res.on('end', () => { process.stdout.write(body); process.exit(res.statusCode === 200 ? 0 : 1) })
})
req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })))
req.on('error', fail)
`

const TIMEOUT_MS = 3000

/** `nsenter --net=<key> -- <cmd> <args>`: a program inside a sandbox's namespace. */
function inSandbox(key: string, cmd: string, args: readonly string[]): [string, string[]] {
  return ['nsenter', [`--net=${key}`, '--', cmd, ...args]]
}

/** Runs a program to its end; resolves with its output, rejects with its error output. */
function runProgram(file: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs })
    let [out, err] = ['', '']
    child.stdout.on('data', (d) => {
      out += d
    })
    child.stderr.on('data', (d) => {
      err += d
    })
    child.once('error', reject)
    child.once('close', (code, signal) => {
      if (code === 0) resolve(out.trim())
      else reject(new Error((err.trim() || out.trim() || `exited ${code ?? signal}`).split('\n')[0]))
    })
  })
}

/** A server running inside a sandbox. */
export interface SandboxServer {
  stop(): void
}

/** Starts the HTTP server in the sandbox at `key`; resolves once it listens. */
export function startHttpServer(key: string, name: string, port: number): Promise<SandboxServer> {
  const [file, args] = inSandbox(key, process.execPath, ['-e', SERVER, name, String(port)])
  const child: ChildProcess = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] })
  return new Promise((resolve, reject) => {
    let err = ''
    child.stderr?.on('data', (d) => {
      err += d
    })
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`server ${name} exited ${code}: ${err.trim()}`)))
    child.stdout?.once('data', () =>
      resolve({
        stop: () => {
          child.stdin?.end()
          child.kill('SIGTERM')
        },
      }),
    )
  })
}

/** An HTTP GET from inside a sandbox; the body. */
export function httpFromSandbox(key: string, url: string): Promise<string> {
  const [file, args] = inSandbox(key, process.execPath, ['-e', CLIENT, url, String(TIMEOUT_MS)])
  return runProgram(file, args, TIMEOUT_MS + 2000)
}

/** One ping from inside a sandbox; the round-trip time ping reports. */
export async function pingFromSandbox(key: string, ip: string): Promise<string> {
  const [file, args] = inSandbox(key, 'ping', ['-c', '1', '-W', '2', ip])
  const out = await runProgram(file, args, 5000)
  return out.match(/time=([\d.]+ ?ms)/u)?.[1] ?? 'answered'
}

/** An HTTP GET from this process (in the namespace playing the host); the body. */
export function httpFromHost(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path: '/', agent: false, timeout: TIMEOUT_MS }, (res) => {
      let body = ''
      res.on('data', (d) => {
        body += d
      })
      res.on('end', () => (res.statusCode === 200 ? resolve(body.trim()) : reject(new Error(`HTTP ${res.statusCode}`))))
    })
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })))
    req.on('error', (e) => reject(e))
    req.end()
  })
}
