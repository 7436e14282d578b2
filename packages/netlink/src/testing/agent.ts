import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'

/**
 * The agent's program, run with `node --input-type=module -e`: it serves TCP and UDP, and makes
 * connections, on request; requests and answers are JSON lines on stdin and stdout.
 */
const AGENT_SCRIPT = `import { createSocket } from 'node:dgram'
import { createServer, connect as tcpConnect } from 'node:net'
import { createInterface } from 'node:readline'

const name = process.argv[1] ?? 'agent'
const servers = []
const plain = (addr) => (addr ?? '').replace(/^::ffff:/u, '')

function reply(id, body) {
  process.stdout.write(\`\${JSON.stringify({ id, ...body })}\\n\`)
}

function listen({ proto, port }) {
  return new Promise((resolve, reject) => {
    if (proto === 'tcp') {
      const server = createServer((sock) => sock.end(\`\${name} \${port} \${plain(sock.remoteAddress)}\`))
      server.once('error', reject)
      server.listen({ port, host: '::', ipv6Only: false }, () => resolve())
      servers.push(server)
    } else {
      const sock = createSocket({ type: 'udp6', ipv6Only: false })
      sock.on('message', (_msg, from) => sock.send(\`\${name} \${port} \${plain(from.address)}\`, from.port, from.address))
      sock.once('error', reject)
      sock.bind(port, '::', () => resolve())
      servers.push(sock)
    }
  })
}

function connect({ proto, host, port, timeoutMs }) {
  return new Promise((resolve) => {
    const done = (body) => {
      clearTimeout(timer)
      resolve(body)
    }
    const timer = setTimeout(() => {
      sock.destroy?.()
      sock.close?.()
      done({ ok: false, error: 'ETIMEDOUT' })
    }, timeoutMs)
    let sock
    if (proto === 'tcp') {
      let data = ''
      sock = tcpConnect({ host, port })
      sock.on('data', (b) => {
        data += b
      })
      sock.on('end', () => done({ ok: true, data }))
      sock.on('error', (e) => done({ ok: false, error: e.code ?? e.message }))
    } else {
      sock = createSocket(host.includes(':') ? 'udp6' : 'udp4')
      sock.on('message', (msg) => {
        sock.close()
        done({ ok: true, data: String(msg) })
      })
      sock.on('error', (e) => {
        sock.close()
        done({ ok: false, error: e.code ?? e.message })
      })
      sock.connect(port, host, () => sock.send('ping'))
    }
  })
}

const lines = createInterface({ input: process.stdin })
lines.on('line', async (line) => {
  const req = JSON.parse(line)
  try {
    if (req.op === 'listen') reply(req.id, { ok: true, data: await listen(req) })
    else if (req.op === 'connect') reply(req.id, await connect(req))
    else reply(req.id, { ok: false, error: \`unknown op \${req.op}\` })
  } catch (e) {
    reply(req.id, { ok: false, error: e.code ?? e.message })
  }
})
lines.on('close', () => {
  for (const s of servers) s.close()
  process.exit(0)
})
process.stdout.write(\`\${JSON.stringify({ id: 0, ok: true, data: 'ready' })}\\n\`)
`

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
    const args = ['--input-type=module', '-e', AGENT_SCRIPT, name]
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
