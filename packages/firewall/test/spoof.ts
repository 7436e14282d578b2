import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { run } from '@cnm/netlink/testing'

/**
 * A forged-source UDP sender (python3), as a container with CAP_NET_ADMIN or CAP_NET_RAW can send
 * one: a datagram socket with `IP_TRANSPARENT` / `IPV6_TRANSPARENT` binds any source address (the
 * kernel builds the same packet a raw socket would, and routes it through the container's gateway).
 * Each datagram is `[source, source port, destination, destination port, text]`.
 */
const SENDER = `
import json, socket, sys
for src, sport, dst, dport, text in json.loads(sys.argv[1]):
    v6 = ':' in dst
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
    if v6:
        s.setsockopt(socket.IPPROTO_IPV6, 75, 1)  # IPV6_TRANSPARENT
    else:
        s.setsockopt(socket.IPPROTO_IP, 19, 1)  # IP_TRANSPARENT
    s.bind((src, sport))
    s.sendto(text.encode(), (dst, dport))
    s.close()
`

/** A datagram to send with a chosen (forged) source address. */
export type Forged = [src: string, sport: number, dst: string, dport: number, text: string]

/** Sends `datagrams` from inside the namespace at `netns`, in order. */
export function sendForged(netns: string, datagrams: readonly Forged[]): void {
  run('python3', ['-c', SENDER, JSON.stringify(datagrams)], { netns })
}

/**
 * A UDP listener (IPv4 and IPv6) that records every datagram it receives (source, its port, and text) until
 * its standard input closes: it answers nothing, so it only counts what reached it.
 */
const LISTENER = `
import json, select, socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(('::', int(sys.argv[1])))
print('ready', flush=True)
while True:
    r = select.select([s, sys.stdin], [], [])[0]
    if s in r:
        data, addr = s.recvfrom(65535)
        print(json.dumps({'from': addr[0].removeprefix('::ffff:'), 'port': addr[1], 'text': data.decode(errors='replace')}), flush=True)
    if sys.stdin in r and not sys.stdin.readline():
        break
`

/** One datagram a {@link Listener} received. */
export interface Received {
  from: string
  /** The source port. */
  port: number
  text: string
}

/**
 * Reads a listener child's standard output a line at a time: resolves on its first `ready` line,
 * hands every other line to `onLine` as parsed JSON, rejects if the child exits before `ready`.
 */
export function readyLines<T>(
  child: ChildProcessWithoutNullStreams,
  what: string,
  onLine: (message: T) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let buffer = ''
    child.stdout.on('data', (b: Buffer) => {
      buffer += b.toString('utf8')
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl)
        buffer = buffer.slice(nl + 1)
        if (line === 'ready') resolve()
        else onLine(JSON.parse(line) as T)
      }
    })
    child.once('exit', (code) => reject(new Error(`${what} exited ${code}`)))
  })
}

/** A {@link LISTENER} in a namespace. */
export class Listener {
  readonly #child: ChildProcessWithoutNullStreams
  readonly received: Received[] = []
  #waiters: (() => void)[] = []

  private constructor(child: ChildProcessWithoutNullStreams) {
    this.#child = child
  }

  /** Starts listening on UDP `port` in the namespace at `netns`; resolves once the socket is bound. */
  static start(netns: string, port: number): Promise<Listener> {
    const child = spawn('nsenter', [`--net=${netns}`, '--', 'python3', '-c', LISTENER, String(port)], { stdio: 'pipe' })
    const l = new Listener(child)
    return readyLines<Received>(child, `listener on port ${port}`, (r) => {
      l.received.push(r)
      for (const w of l.#waiters) w()
    }).then(() => l)
  }

  /** Waits (polling on arrival, up to `timeoutMs`) until a datagram with `text` has arrived. */
  async waitFor(text: string, timeoutMs = 10_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    while (!this.received.some((r) => r.text.includes(text))) {
      const left = deadline - Date.now()
      if (left <= 0) return false
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left)
        this.#waiters.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
      this.#waiters = []
    }
    return true
  }

  /** The sources and texts received whose text contains `text`. */
  matching(text: string): Received[] {
    return this.received.filter((r) => r.text.includes(text))
  }

  /** Stops the listener. */
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null) return
    const exited = new Promise((resolve) => this.#child.once('exit', resolve))
    this.#child.stdin.end()
    await exited
  }
}
