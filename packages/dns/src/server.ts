import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { EventEmitter } from 'node:events'
import { createServer, type Server as TcpServer } from 'node:net'
import { type ClientFilter, makeClientFilter } from './client-filter.js'
import { DnsError, ERR_DNS_SERVER_CLOSED } from './errors.js'
import type { NameTable } from './name-table.js'
import { type DnsStats, QueryHandler } from './query-handler.js'
import { type ResolvConf, sandboxResolvConf } from './resolv-conf.js'
import { type DnsServerOptions, parseServerOptions, type ServerConfig } from './server-config.js'
import { TcpConnections } from './tcp-connections.js'
import { FrameReader, frame } from './tcp-frames.js'
import type { UdpLoop } from './udp-loop.js'
import { bindNativeUdp, clearOnChange, type FamilyLoop, type HandlerRef } from './udp-native.js'
import { type Upstream, UpstreamSource } from './upstreams.js'

/** A running DNS server of one network. */
export interface DnsServer {
  /** The names it answers: `set`/`delete` take effect for the very next query. */
  readonly names: NameTable
  /** The addresses it listens on (canonical), UDP and TCP. */
  readonly addresses: readonly string[]
  /** The port it listens on (the one picked, when `port` was 0). */
  readonly port: number
  /** The network's search domain, if any. */
  readonly domain: string | undefined
  /** Where queries that are not the network's go now. */
  upstreams(): readonly Upstream[]
  /** The resolver configuration of a sandbox on this network (render it with `renderResolvConf`). */
  sandboxResolvConf(): ResolvConf
  /** What it has done so far. */
  stats(): Readonly<DnsStats> & {
    readonly tcpConnections: number
    readonly inFlight: number
    /** Of `local`: answered by the native UDP loop without the event loop (0 on Node's dgram). */
    readonly udpNative: number
    /** Batches the native loops held back for the control plane (`holdUdpLoops`). */
    readonly udpHeld: number
    /** Holds that outlived their bound (`HOLD_MAX_MS`) while a loop waited. */
    readonly udpHoldsExpired: number
  }
  /** Stops listening, closes every connection and ends forwards in flight. Idempotent. */
  close(): Promise<void>
}

/** Outstanding answers per TCP connection before it stops reading (it resumes when they are sent). */
const TCP_PIPELINE = 64
/** A TCP client that does not read its answers is dropped past this many buffered bytes. */
const TCP_WRITE_BUFFER = 1 << 20

interface Listener {
  /** UDP on Node's dgram, or on the native loop (`udp-loop.ts`) when its addon is built. */
  udp: UdpSocket | UdpLoop
  tcp: TcpServer | undefined
}

/**
 * Starts a DNS server for one network, listening on its addresses (UDP and TCP), answering from
 * `options.names` and forwarding the rest. Everything is validated before a socket opens; if one
 * address cannot be bound, those already bound are closed and the error names the address
 * (`EADDRINUSE`, `EADDRNOTAVAIL`, `EACCES`, with the original in `cause`).
 */
export async function createDnsServer(options: DnsServerOptions): Promise<DnsServer> {
  const config = parseServerOptions(options)
  const listeners: Listener[] = []
  let port = config.port
  let upstreams: UpstreamSource | undefined
  const conns = new TcpConnections(config)
  const filter = makeClientFilter(config.subnets, config.addresses, config.anyClient)
  const ref: HandlerRef = {}
  try {
    // Port 0 (tests): the kernel picks the UDP port, and TCP must get the same number, which
    // another socket may hold (a connection's ephemeral port): then the whole set again, a few times.
    for (let attempt = 1; ; attempt++) {
      try {
        for (const { address, family } of config.addresses) {
          const udp = bindLoop(address, family, port, ref, filter) ?? (await bindUdp(address, family, port))
          listeners.push({ udp, tcp: undefined })
          port = isLoop(udp) ? udp.port : udp.address().port
          ;(listeners.at(-1) as Listener).tcp = await listenTcp(address, port)
        }
        break
      } catch (err) {
        if (config.port !== 0 || attempt >= 5 || (err as DnsError).code !== 'EADDRINUSE') throw err
        await closeListeners(listeners.splice(0))
        port = 0
      }
    }
    upstreams = await UpstreamSource.open({
      resolvConf: config.resolvConf,
      upstreams: config.upstreams,
      self: config.addresses.map((a) => ({ address: a.address, port })),
    })
  } catch (err) {
    await closeListeners(listeners)
    throw err
  }
  const handler = new QueryHandler(config, upstreams)
  ref.handler = handler
  const loops: FamilyLoop[] = []
  for (const [i, l] of listeners.entries()) {
    if (isLoop(l.udp)) loops.push({ loop: l.udp, family: config.addresses[i]?.family ?? 4 })
    else serveUdp(l.udp, handler, filter)
    if (l.tcp) serveTcp(l.tcp, handler, filter, conns)
  }
  const native = { loops: loops.map((l) => l.loop), stopClearing: clearOnChange(config.names, loops, handler) }
  return makeServer(config, port, listeners, upstreams, handler, conns, native)
}

function makeServer(
  config: ServerConfig,
  port: number,
  listeners: Listener[],
  upstreams: UpstreamSource,
  handler: QueryHandler,
  conns: TcpConnections,
  native: { loops: UdpLoop[]; stopClearing: () => void },
): DnsServer {
  let closing: Promise<void> | undefined
  const addresses = Object.freeze(config.addresses.map((a) => a.address))
  return {
    names: config.names,
    addresses,
    port,
    domain: config.domain,
    upstreams: () => (closing ? [] : upstreams.current()),
    sandboxResolvConf(): ResolvConf {
      if (closing) throw new DnsError(ERR_DNS_SERVER_CLOSED, `the DNS server on ${addresses.join(', ')} is closed`)
      return sandboxResolvConf({
        servers: addresses,
        ...(config.domain === undefined ? {} : { domain: config.domain }),
        ...(upstreams.hostConf ? { host: upstreams.hostConf } : {}),
      })
    },
    stats: () => ({
      ...withNative(handler.stats, native.loops),
      tcpConnections: conns.size,
      inFlight: handler.inFlight,
    }),
    close(): Promise<void> {
      closing ??= (async () => {
        native.stopClearing()
        handler.close()
        upstreams.close()
        for (const c of [...conns.sockets()]) c.destroy()
        await closeListeners(listeners)
      })()
      return closing
    },
  }
}

/** The handler's counters plus what the native loops answered (local) or dropped themselves. */
function withNative(
  stats: Readonly<DnsStats>,
  loops: UdpLoop[],
): DnsStats & { udpNative: number; udpHeld: number; udpHoldsExpired: number } {
  const out = { ...stats, udpNative: 0, udpHeld: 0, udpHoldsExpired: 0 }
  for (const l of loops) {
    const n = l.stats()
    out.queries += n.answered + n.dropped
    out.local += n.answered
    out.queries += n.foreign + n.limited
    out.dropped += n.dropped
    out.foreign += n.foreign
    out.limited += n.limited
    out.udpNative += n.answered
    out.udpHeld += n.held
    out.udpHoldsExpired += n.holdsExpired
  }
  return out
}

function isLoop(udp: UdpSocket | UdpLoop): udp is UdpLoop {
  return !(udp instanceof EventEmitter)
}

/** UDP on the native loop, when its addon is built; bind errors as {@link bindUdp}'s. */
function bindLoop(
  address: string,
  family: 4 | 6,
  port: number,
  ref: HandlerRef,
  filter: ClientFilter,
): UdpLoop | undefined {
  try {
    return bindNativeUdp(address, family, port, ref, filter.rules(family))
  } catch (err) {
    throw bindError(err as NodeJS.ErrnoException, 'udp', address, port)
  }
}

function bindUdp(address: string, family: 4 | 6, port: number): Promise<UdpSocket> {
  return new Promise((resolve, reject) => {
    const sock = createSocket({
      type: family === 6 ? 'udp6' : 'udp4',
      ipv6Only: family === 6,
      // Answers go to the address a query came from: never a name, so no resolver call per send.
      lookup: (addr, _opts, cb) => cb(null, addr, family),
    })
    const fail = (err: NodeJS.ErrnoException): void => {
      sock.close()
      reject(bindError(err, 'udp', address, port))
    }
    sock.once('error', fail)
    sock.bind({ address, port, exclusive: true }, () => {
      sock.off('error', fail)
      resolve(sock)
    })
  })
}

function listenTcp(address: string, port: number): Promise<TcpServer> {
  return new Promise((resolve, reject) => {
    const server = createServer({ noDelay: true })
    const fail = (err: NodeJS.ErrnoException): void => {
      server.close()
      reject(bindError(err, 'tcp', address, port))
    }
    server.once('error', fail)
    server.listen({ host: address, port, exclusive: true, ipv6Only: address.includes(':') }, () => {
      server.off('error', fail)
      resolve(server)
    })
  })
}

function bindError(err: NodeJS.ErrnoException, proto: string, address: string, port: number): DnsError {
  const where = address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`
  return new DnsError(err.code ?? 'EINVAL', `DNS server: cannot listen on ${proto} ${where}: ${err.message}`, {
    cause: err,
  })
}

function serveUdp(sock: UdpSocket, handler: QueryHandler, filter: ClientFilter): void {
  // A send that fails (the client's ICMP error, ENOBUFS under a flood) costs that answer only.
  sock.on('error', () => {})
  const reply = (r: Buffer | undefined, port: number, address: string): void => {
    if (r === undefined) return
    try {
      sock.send(r, port, address)
    } catch {
      // Closed meanwhile (a forwarded answer arriving after close()): nobody to answer.
    }
  }
  sock.on('message', (msg, rinfo) => {
    if (!filter.allows(rinfo.address)) {
      handler.stats.queries++
      handler.stats.foreign++
      return
    }
    const res = handler.handle(msg, 'udp', rinfo.address)
    if (res === undefined || Buffer.isBuffer(res)) reply(res, rinfo.port, rinfo.address)
    else res.then((r) => reply(r, rinfo.port, rinfo.address)).catch(() => {})
  })
}

function serveTcp(server: TcpServer, handler: QueryHandler, filter: ClientFilter, conns: TcpConnections): void {
  server.on('error', () => {})
  server.on('connection', (conn) => {
    conn.on('error', () => {})
    const client = conn.remoteAddress
    if (client === undefined || !filter.allows(client)) {
      handler.stats.foreign++
      conn.destroy()
      return
    }
    conns.add(conn, client)
    const reader = new FrameReader()
    let pending = 0
    const send = (r: Buffer | undefined): void => {
      pending--
      if (pending < TCP_PIPELINE && conn.isPaused()) conn.resume()
      if (r === undefined || conn.destroyed) return
      if (conn.writableLength > TCP_WRITE_BUFFER) conn.destroy()
      else conn.write(frame(r))
    }
    conn.on('data', (chunk: Buffer) => {
      const messages = reader.push(chunk)
      conns.read(conn, messages.length, reader.pending)
      for (const msg of messages) {
        pending++
        const res = handler.handle(msg, 'tcp', conn.remoteAddress)
        if (res === undefined) {
          // Not a DNS message: a stream out of step cannot be trusted further (RFC 7766 6.2.4).
          conn.destroy()
          return
        }
        if (Buffer.isBuffer(res)) send(res)
        else res.then(send).catch(() => {})
      }
      if (pending >= TCP_PIPELINE) conn.pause()
    })
  })
}

async function closeListeners(listeners: Listener[]): Promise<void> {
  await Promise.all(
    listeners.flatMap((l) => [
      new Promise<void>((resolve) => {
        if (isLoop(l.udp)) {
          l.udp.close()
          resolve()
          return
        }
        try {
          l.udp.close(() => resolve())
        } catch {
          resolve()
        }
      }),
      new Promise<void>((resolve) => (l.tcp ? l.tcp.close(() => resolve()) : resolve())),
    ]),
  )
}
