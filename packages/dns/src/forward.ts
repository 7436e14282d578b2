import { createSocket } from 'node:dgram'
import { connect } from 'node:net'
import { FrameReader, frame } from './tcp-frames.js'
import type { Upstream } from './upstreams.js'
import { answersQuery, decodeMessage, type Message } from './wire.js'

/** How one attempt at one upstream ended. */
type Attempt = { ok: true; response: Buffer; message: Message } | { ok: false; refused: boolean }

export interface ForwardOptions {
  /** The whole time allowed: after it the caller answers SERVFAIL. */
  readonly budgetMs: number
  /** Ends every attempt at once (the server closing). */
  readonly signal: AbortSignal
}

/**
 * Sends the client's query (its own bytes, OPT record included, so the upstream sees the
 * client's EDNS size) to the upstreams in turn until one answers it, over UDP or TCP. Each attempt
 * gets its own socket (a fresh random source port: nothing to guess for a spoofed answer) and an
 * equal share of the budget, at least two tries in all; an upstream that refuses (ICMP port
 * unreachable, TCP reset) is skipped at once. Undefined when none answered in time.
 */
export async function forwardQuery(
  query: Buffer,
  q: Message,
  upstreams: readonly Upstream[],
  proto: 'udp' | 'tcp',
  options: ForwardOptions,
): Promise<{ response: Buffer; message: Message } | undefined> {
  if (upstreams.length === 0) return undefined
  const deadline = Date.now() + options.budgetMs
  const tries = Math.max(2, upstreams.length)
  const perAttempt = Math.max(100, Math.floor(options.budgetMs / tries))
  const refused = new Set<number>()
  for (let i = 0; !options.signal.aborted; i++) {
    const index = i % upstreams.length
    if (refused.size === upstreams.length) return undefined
    if (refused.has(index)) continue
    const remaining = deadline - Date.now()
    if (remaining <= 0) return undefined
    const up = upstreams[index] as Upstream
    const timeout = Math.min(perAttempt, remaining)
    const r = await (proto === 'udp' ? udpAttempt : tcpAttempt)(query, q, up, timeout, options.signal)
    if (r.ok) return r
    if (r.refused) refused.add(index)
  }
  return undefined
}

function udpAttempt(query: Buffer, q: Message, up: Upstream, timeoutMs: number, signal: AbortSignal): Promise<Attempt> {
  return new Promise((resolve) => {
    const sock = createSocket(up.family === 6 ? 'udp6' : 'udp4')
    let done = false
    const finish = (r: Attempt): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      signal.removeEventListener('abort', abort)
      try {
        sock.close()
      } catch {}
      resolve(r)
    }
    const abort = (): void => finish({ ok: false, refused: false })
    const timer = setTimeout(abort, timeoutMs)
    signal.addEventListener('abort', abort)
    sock.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, refused: err.code === 'ECONNREFUSED' }))
    sock.on('message', (msg) => {
      const m = decodeMessage(msg)
      if (m && answersQuery(q, m)) finish({ ok: true, response: msg, message: m })
    })
    sock.connect(up.port, up.address, () => {
      if (!done) sock.send(query)
    })
  })
}

function tcpAttempt(query: Buffer, q: Message, up: Upstream, timeoutMs: number, signal: AbortSignal): Promise<Attempt> {
  return new Promise((resolve) => {
    const sock = connect({ host: up.address, port: up.port, noDelay: true })
    const reader = new FrameReader()
    let done = false
    const finish = (r: Attempt): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      signal.removeEventListener('abort', abort)
      sock.destroy()
      resolve(r)
    }
    const abort = (): void => finish({ ok: false, refused: false })
    const timer = setTimeout(abort, timeoutMs)
    signal.addEventListener('abort', abort)
    sock.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, refused: err.code === 'ECONNREFUSED' }))
    sock.on('close', () => finish({ ok: false, refused: false }))
    sock.on('connect', () => sock.write(frame(query)))
    sock.on('data', (chunk: Buffer) => {
      for (const msg of reader.push(chunk)) {
        const m = decodeMessage(msg)
        if (m && answersQuery(q, m)) return finish({ ok: true, response: msg, message: m })
      }
    })
  })
}
