import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const AGENT = fileURLToPath(new URL('./agent.mjs', import.meta.url))

/** The answer to a connection: the server's name, its port and the peer address it saw, or an error code. */
export type Reply = { ok: true; name: string; port: number; peer: string } | { ok: false; error: string }

/**
 * A helper process inside one network namespace (or the caller's), serving and making TCP/UDP
 * connections on request. Spawned with an argument array through `nsenter --net=<path>`.
 */
export class Agent {
  readonly #child: ChildProcessWithoutNullStreams
  readonly #pending = new Map<number, (r: { ok: boolean; data?: string; error?: string }) => void>()
  #next = 1

  private constructor(child: ChildProcessWithoutNullStreams) {
    this.#child = child
    let buffer = ''
    child.stdout.on('data', (b: Buffer) => {
      buffer += b.toString('utf8')
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const msg = JSON.parse(buffer.slice(0, nl)) as { id: number; ok: boolean; data?: string; error?: string }
        buffer = buffer.slice(nl + 1)
        this.#pending.get(msg.id)?.(msg)
        this.#pending.delete(msg.id)
      }
    })
  }

  /** Starts an agent named `name`, inside the namespace bound at `netns` (default: the caller's). */
  static async start(name: string, netns?: string): Promise<Agent> {
    const args = [AGENT, name]
    const child = netns
      ? spawn('nsenter', [`--net=${netns}`, '--', process.execPath, ...args], { stdio: 'pipe' })
      : spawn(process.execPath, args, { stdio: 'pipe' })
    const agent = new Agent(child)
    await new Promise<void>((resolve, reject) => {
      agent.#pending.set(0, () => resolve())
      child.once('exit', (code) => reject(new Error(`agent ${name} exited ${code}`)))
    })
    return agent
  }

  #request(body: Record<string, unknown>): Promise<{ ok: boolean; data?: string; error?: string }> {
    const id = this.#next++
    return new Promise((resolve) => {
      this.#pending.set(id, resolve)
      this.#child.stdin.write(`${JSON.stringify({ id, ...body })}\n`)
    })
  }

  /** Serves `proto` on `port` (all addresses, IPv4 and IPv6), answering `<name> <port> <peer>`. */
  async listen(proto: 'tcp' | 'udp', port: number): Promise<void> {
    const r = await this.#request({ op: 'listen', proto, port })
    if (!r.ok) throw new Error(`listen ${proto} ${port}: ${r.error}`)
  }

  /** Connects (TCP) or sends a datagram (UDP) and reports what answered. */
  async connect(proto: 'tcp' | 'udp', host: string, port: number, timeoutMs = 1500): Promise<Reply> {
    const r = await this.#request({ op: 'connect', proto, host, port, timeoutMs })
    if (!r.ok) return { ok: false, error: r.error ?? 'unknown' }
    const [name = '', p = '0', peer = ''] = (r.data ?? '').split(' ')
    return { ok: true, name, port: Number(p), peer }
  }

  /** Ends the agent (closing its sockets). */
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null) return
    const exited = new Promise((resolve) => this.#child.once('exit', resolve))
    this.#child.stdin.end()
    await exited
  }
}
