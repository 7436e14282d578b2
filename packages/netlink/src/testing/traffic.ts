import { type ChildProcess, spawn } from 'node:child_process'
import { run } from './run.js'

const SERVER = `
const net = require('node:net'), dgram = require('node:dgram')
const [port, text] = [Number(process.argv[1]), process.argv[2]]
const srv = net.createServer((s) => { s.on('error', () => {}); s.end(text + ' ' + s.remoteAddress.replace(/^::ffff:/, '') + '\\n') })
srv.listen({ port, host: '::', ipv6Only: false }, () => {
  const u = dgram.createSocket({ type: 'udp6', ipv6Only: false })
  u.on('message', (m, r) => u.send(text + ' ' + r.address.replace(/^::ffff:/, '') + '\\n', r.port, r.address))
  u.bind(port, '::', () => process.stdout.write('ready\\n'))
})
`

const CLIENT = `
const net = require('node:net'), dgram = require('node:dgram')
const [proto, host, port, timeout] = [process.argv[1], process.argv[2], Number(process.argv[3]), Number(process.argv[4])]
const fail = (e) => { process.stderr.write(String(e && e.code || e) + '\\n'); process.exit(2) }
setTimeout(() => fail('ETIMEDOUT'), timeout)
if (proto === 'tcp') {
  let out = ''
  const s = net.connect({ host, port }, () => {})
  s.on('data', (d) => { out += d }); s.on('end', () => { process.stdout.write(out); process.exit(0) }); s.on('error', fail)
} else {
  const u = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4')
  u.on('message', (m) => { process.stdout.write(m); process.exit(0) }); u.on('error', fail)
  u.send('ping', port, host)
}
`

/** A TCP and UDP server on `port` (all addresses) that answers `<text> <peer address>`. */
export interface TestServer {
  /** Kills the server (SIGKILL), in whichever namespace it runs; the port is free once it has exited. */
  stop(): void
}

/**
 * Starts the server in the namespace bound at `netns` (or the caller's), resolving once it
 * listens. Test code only.
 */
export function startServer(port: number, text: string, netns?: string): Promise<TestServer> {
  const [file, args] = netns
    ? ['nsenter', [`--net=${netns}`, '--', process.execPath, '-e', SERVER, String(port), text]]
    : [process.execPath, ['-e', SERVER, String(port), text]]
  const child: ChildProcess = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  return new Promise((resolve, reject) => {
    let err = ''
    child.stderr?.on('data', (d) => {
      err += d
    })
    child.once('exit', (code) => reject(new Error(`test server exited ${code}: ${err}`)))
    child.stdout?.once('data', () => resolve({ stop: () => child.kill('SIGKILL') }))
  })
}

/**
 * Connects (TCP) or sends a datagram (UDP) from the namespace at `netns` (or the caller's) and
 * returns the reply line, or `undefined` when there is none within `timeoutMs`.
 */
export function request(
  proto: 'tcp' | 'udp',
  host: string,
  port: number,
  opts: { netns?: string; timeoutMs?: number } = {},
): string | undefined {
  const timeout = opts.timeoutMs ?? 1500
  const res = run(process.execPath, ['-e', CLIENT, proto, host, String(port), String(timeout)], {
    check: false,
    timeoutMs: timeout + 3000,
    ...(opts.netns ? { netns: opts.netns } : {}),
  })
  return res.status === 0 ? res.stdout.trim() : undefined
}

/** Whether one ping from `netns` to `host` is answered within 1 s. */
export function pings(host: string, netns?: string): boolean {
  const args = [...(host.includes(':') ? ['-6'] : []), '-c', '1', '-W', '1', host]
  return run('ping', args, { check: false, ...(netns ? { netns } : {}) }).status === 0
}
