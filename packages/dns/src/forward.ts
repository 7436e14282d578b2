import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { connect } from 'node:net'
import { randomId, withId } from './message-id.js'
import { FrameReader, frame } from './tcp-frames.js'
import type { Upstream } from './upstreams.js'
import { answersQuery, decodeMessage, type Message } from './wire.js'

/** How one attempt at one upstream ended. */
type Attempt = { ok: true; response: Buffer } | { ok: false; refused: boolean }

/** UDP sockets kept per upstream; each query goes out on the next one. */
const SOCKETS_PER_UPSTREAM = 8
/** A socket is replaced (a new random source port) after this many queries or this long. */
const SOCKET_MAX_QUERIES = 2048
const SOCKET_MAX_AGE_MS = 30_000

interface Pending {
  readonly q: Message
  readonly clientId: number
  readonly finish: (a: Attempt) => void
}

/** One UDP socket connected to one upstream, with the queries it is waiting on by id. */
class Channel {
  readonly sock: UdpSocket
  readonly pending = new Map<number, Pending>()
  readonly born = Date.now()
  readonly ready: Promise<boolean>
  uses = 0
  retired = false

  constructor(up: Upstream, onIdle: (c: Channel) => void) {
    this.sock = createSocket(up.family === 6 ? 'udp6' : 'udp4')
    this.ready = new Promise((resolve) => {
      this.sock.once('error', () => resolve(false))
      this.sock.once('close', () => resolve(false))
      this.sock.connect(up.port, up.address, () => resolve(true))
    })
    // ICMP port unreachable arrives as ECONNREFUSED on a connected socket: every query on it failed.
    this.sock.on('error', (err: NodeJS.ErrnoException) => {
      this.retired = true
      for (const p of [...this.pending.values()]) p.finish({ ok: false, refused: err.code === 'ECONNREFUSED' })
      onIdle(this)
    })
    this.sock.on('message', (msg) => {
      const m = decodeMessage(msg)
      const p = m?.id === undefined ? undefined : this.pending.get(m.id)
      if (m && p && answersQuery({ ...p.q, id: m.id }, m)) p.finish({ ok: true, response: withId(msg, p.clientId) })
    })
  }

  get stale(): boolean {
    return this.retired || this.uses >= SOCKET_MAX_QUERIES || Date.now() - this.born > SOCKET_MAX_AGE_MS
  }

  close(): void {
    try {
      this.sock.close()
    } catch {}
  }
}

/**
 * Sends queries to upstream resolvers. Over UDP each upstream has a few connected sockets (source
 * ports chosen by the kernel, replaced every 2,048 queries or 30 s) and every query leaves with a
 * fresh random id, so an answer must match the socket, the id and the question to be taken; the
 * client's own id is put back on the answer. Over TCP each attempt is its own connection.
 */
export class Forwarder {
  readonly #channels = new Map<string, Channel[]>()
  readonly #cursor = new Map<string, number>()
  readonly #tcp = new Set<() => void>()
  #closed = false

  /**
   * Sends the client's query (its bytes, OPT record included, so the upstream sees the client's
   * EDNS size) to the upstreams in turn until one answers, within `budgetMs`: each attempt gets
   * an equal share, at least two tries in all; an upstream that refuses is skipped at once.
   * Undefined when none answered in time.
   */
  async forward(
    query: Buffer,
    q: Message,
    upstreams: readonly Upstream[],
    proto: 'udp' | 'tcp',
    budgetMs: number,
  ): Promise<Buffer | undefined> {
    if (upstreams.length === 0) return undefined
    const deadline = Date.now() + budgetMs
    const perAttempt = Math.max(100, Math.floor(budgetMs / Math.max(2, upstreams.length)))
    const refused = new Set<number>()
    for (let i = 0; !this.#closed && refused.size < upstreams.length; i++) {
      const index = i % upstreams.length
      if (refused.has(index)) continue
      const remaining = deadline - Date.now()
      if (remaining <= 0) return undefined
      const up = upstreams[index] as Upstream
      const timeout = Math.min(perAttempt, remaining)
      const r = proto === 'udp' ? await this.#udp(query, q, up, timeout) : await this.#tcpAttempt(query, q, up, timeout)
      if (r.ok) return r.response
      if (r.refused) refused.add(index)
    }
    return undefined
  }

  /** Ends every attempt in flight (their clients get SERVFAIL) and closes the sockets. */
  close(): void {
    this.#closed = true
    for (const list of this.#channels.values()) {
      for (const c of list) {
        for (const p of [...c.pending.values()]) p.finish({ ok: false, refused: false })
        c.close()
      }
    }
    this.#channels.clear()
    for (const abort of [...this.#tcp]) abort()
  }

  #channel(up: Upstream): Channel {
    const key = `${up.address}#${up.port}`
    let list = this.#channels.get(key)
    if (!list) {
      list = []
      this.#channels.set(key, list)
    }
    // Drop stale sockets that have nothing pending; keep at most SOCKETS_PER_UPSTREAM live ones.
    for (const c of list.filter((c) => c.stale && c.pending.size === 0)) this.#drop(key, c)
    const live = list.filter((c) => !c.stale)
    if (live.length < SOCKETS_PER_UPSTREAM) {
      const c = new Channel(up, (idle) => {
        if (idle.pending.size === 0) this.#drop(key, idle)
      })
      list.push(c)
      return c
    }
    const n = (this.#cursor.get(key) ?? 0) + 1
    this.#cursor.set(key, n)
    return live[n % live.length] as Channel
  }

  #drop(key: string, c: Channel): void {
    c.close()
    const list = this.#channels.get(key)
    if (!list) return
    const i = list.indexOf(c)
    if (i >= 0) list.splice(i, 1)
    if (list.length === 0) this.#channels.delete(key)
  }

  async #udp(query: Buffer, q: Message, up: Upstream, timeoutMs: number): Promise<Attempt> {
    const c = this.#channel(up)
    c.uses++
    let id = randomId()
    while (c.pending.has(id)) id = randomId()
    const attempt = new Promise<Attempt>((resolve) => {
      const timer = setTimeout(() => finish({ ok: false, refused: false }), timeoutMs)
      const finish = (a: Attempt): void => {
        if (c.pending.get(id)?.finish !== finish) return
        clearTimeout(timer)
        c.pending.delete(id)
        if (c.stale && c.pending.size === 0) this.#drop(`${up.address}#${up.port}`, c)
        resolve(a)
      }
      c.pending.set(id, { q, clientId: q.id ?? 0, finish })
    })
    if (await c.ready) {
      try {
        c.sock.send(withId(query, id))
      } catch {
        // Closed meanwhile (the forwarder closing): the attempt ends with the others.
      }
    }
    return attempt
  }

  #tcpAttempt(query: Buffer, q: Message, up: Upstream, timeoutMs: number): Promise<Attempt> {
    return new Promise((resolve) => {
      const sock = connect({ host: up.address, port: up.port, noDelay: true })
      const reader = new FrameReader()
      let done = false
      const finish = (r: Attempt): void => {
        if (done) return
        done = true
        clearTimeout(timer)
        this.#tcp.delete(abort)
        sock.destroy()
        resolve(r)
      }
      const abort = (): void => finish({ ok: false, refused: false })
      const timer = setTimeout(abort, timeoutMs)
      this.#tcp.add(abort)
      sock.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, refused: err.code === 'ECONNREFUSED' }))
      sock.on('close', abort)
      sock.on('connect', () => sock.write(frame(query)))
      sock.on('data', (chunk: Buffer) => {
        for (const msg of reader.push(chunk)) {
          const m = decodeMessage(msg)
          if (m && answersQuery(q, m)) return finish({ ok: true, response: msg })
        }
      })
    })
  }
}
