// Test helpers (not shipped): a tiny upstream resolver and a client, both on dns-packet.
import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { connect, createServer, type Server } from 'node:net'
import * as packet from 'dns-packet'
import { FrameReader, frame } from './tcp-frames.js'

export interface Upstream {
  readonly address: string
  readonly port: number
  /** Queries it received, as `name/type/proto`. */
  readonly seen: string[]
  close(): Promise<void>
}

export interface UpstreamOptions {
  address?: string
  port?: number
  /** A → address for each name (lower case); TXT `big.*` answers ~3 KB of text. */
  records?: Record<string, string>
  /** Receive queries and never answer (a black hole). */
  silent?: boolean
}

function answer(query: packet.DecodedPacket, records: Record<string, string>): Buffer {
  const q = query.questions?.[0]
  const name = q?.name.toLowerCase() ?? ''
  const answers: packet.Answer[] = []
  if (q?.type === 'A' && records[name]) answers.push({ type: 'A', name: q.name, ttl: 30, data: records[name] })
  if (q?.type === 'TXT' && name.startsWith('big.')) {
    for (let i = 0; i < 12; i++) answers.push({ type: 'TXT', name: q.name, ttl: 30, data: `${i}:${'x'.repeat(240)}` })
  }
  const known = answers.length > 0 || records[name] !== undefined || name.startsWith('big.')
  const opt = query.additionals?.find((a) => a.type === 'OPT') as packet.OptAnswer | undefined
  return packet.encode({
    id: query.id ?? 0,
    type: 'response',
    flags: packet.RECURSION_AVAILABLE | ((query.flags ?? 0) & packet.RECURSION_DESIRED) | (known ? 0 : 3),
    questions: query.questions ?? [],
    answers,
    additionals: opt
      ? [{ type: 'OPT', name: '.', udpPayloadSize: 4096, flags: 0, options: [] } as unknown as packet.Answer]
      : [],
  })
}

/** A small authoritative resolver for tests; truncates (TC) UDP answers over the client's size. */
export async function startUpstream(options: UpstreamOptions = {}): Promise<Upstream> {
  const address = options.address ?? '127.0.0.1'
  const records = options.records ?? {}
  const seen: string[] = []
  const udp: UdpSocket = createSocket(address.includes(':') ? 'udp6' : 'udp4')
  udp.on('message', (msg, rinfo) => {
    let q: packet.DecodedPacket
    try {
      q = packet.decode(msg)
    } catch {
      return
    }
    seen.push(`${q.questions?.[0]?.name}/${q.questions?.[0]?.type}/udp`)
    if (options.silent) return
    let res = answer(q, records)
    const opt = q.additionals?.find((a) => a.type === 'OPT') as packet.OptAnswer | undefined
    const limit = opt ? Math.max(512, opt.udpPayloadSize) : 512
    if (res.length > limit) {
      res = packet.encode({
        id: q.id ?? 0,
        type: 'response',
        flags: packet.TRUNCATED_RESPONSE | packet.RECURSION_AVAILABLE | ((q.flags ?? 0) & packet.RECURSION_DESIRED),
        questions: q.questions ?? [],
      })
    }
    udp.send(res, rinfo.port, rinfo.address)
  })
  await new Promise<void>((resolve) => udp.bind(options.port ?? 0, address, () => resolve()))
  const port = udp.address().port
  const tcp: Server = createServer((conn) => {
    const reader = new FrameReader()
    conn.on('error', () => {})
    conn.on('data', (chunk: Buffer) => {
      for (const msg of reader.push(chunk)) {
        const q = packet.decode(msg)
        seen.push(`${q.questions?.[0]?.name}/${q.questions?.[0]?.type}/tcp`)
        if (!options.silent) conn.write(frame(answer(q, records)))
      }
    })
  })
  await new Promise<void>((resolve) => tcp.listen(port, address, () => resolve()))
  return {
    address,
    port,
    seen,
    async close() {
      await Promise.all([
        new Promise<void>((resolve) => udp.close(() => resolve())),
        new Promise<void>((resolve) => tcp.close(() => resolve())),
      ])
    },
  }
}

export interface QueryOptions {
  proto?: 'udp' | 'tcp'
  /** Send an OPT record with this UDP size. */
  edns?: number
  ednsVersion?: number
  timeoutMs?: number
  id?: number
  /** Send from this local address (UDP and TCP). */
  from?: string
}

/** Sends one question and returns the decoded answer (and its size), or undefined on timeout. */
export function query(
  server: { address: string; port: number },
  name: string,
  type: packet.RecordType | 'ANY',
  options: QueryOptions = {},
): Promise<{ message: packet.DecodedPacket & { rcode?: string }; size: number } | undefined> {
  const msg = packet.encode({
    id: options.id ?? Math.floor(Math.random() * 65536),
    type: 'query',
    flags: packet.RECURSION_DESIRED,
    questions: [{ name, type: type as packet.RecordType }],
    additionals:
      options.edns === undefined
        ? []
        : [
            {
              type: 'OPT',
              name: '.',
              udpPayloadSize: options.edns,
              ednsVersion: options.ednsVersion ?? 0,
              flags: 0,
              options: [],
            } as unknown as packet.Answer,
          ],
  })
  return sendRaw(server, msg, options.proto ?? 'udp', options.timeoutMs ?? 3000, options.from).then((buf) =>
    buf ? { message: packet.decode(buf), size: buf.length } : undefined,
  )
}

/** Sends raw bytes (UDP datagram, or one TCP frame) and returns the first message back. */
export function sendRaw(
  server: { address: string; port: number },
  msg: Buffer,
  proto: 'udp' | 'tcp',
  timeoutMs = 3000,
  from?: string,
): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    let done = false
    const finish = (b: Buffer | undefined): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      if (proto === 'udp') udp?.close()
      else conn?.destroy()
      resolve(b)
    }
    const timer = setTimeout(() => finish(undefined), timeoutMs)
    let udp: UdpSocket | undefined
    let conn: ReturnType<typeof connect> | undefined
    if (proto === 'udp') {
      udp = createSocket(server.address.includes(':') ? 'udp6' : 'udp4')
      udp.on('message', (m) => finish(m))
      udp.on('error', () => finish(undefined))
      const u = udp
      if (from) u.bind(0, from, () => u.send(msg, server.port, server.address))
      else u.send(msg, server.port, server.address)
    } else {
      const reader = new FrameReader()
      conn = connect({ host: server.address, port: server.port, ...(from ? { localAddress: from } : {}) }, () =>
        conn?.write(frame(msg)),
      )
      conn.on('data', (chunk: Buffer) => {
        const [first] = reader.push(chunk)
        if (first) finish(first)
      })
      conn.on('error', () => finish(undefined))
      conn.on('close', () => finish(undefined))
    }
  })
}
