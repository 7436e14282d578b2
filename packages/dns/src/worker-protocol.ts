import type { NameChange } from './name-table.js'
import type { DnsStats } from './query-handler.js'
import type { ResolvConf } from './resolv-conf.js'
import type { Upstream } from './upstreams.js'

/** What the owner's thread posts to the server's thread. */
export type ToWorker =
  | { type: 'change'; change: NameChange }
  | { type: 'sync'; seq: number }
  | { type: 'query'; seq: number }
  | { type: 'close' }

/**
 * What a DNS server (on its own thread or not) has done so far: the query counters of `DnsStats`,
 * the TCP connections open now, the forwards in flight now, and `udpNative`, the local answers the
 * native UDP loop gave without the event loop (0 on Node's dgram).
 */
export type WorkerStats = DnsStats & { tcpConnections: number; inFlight: number; udpNative: number }

/** What the server's thread answers. */
export type FromWorker =
  | { type: 'ready'; port: number }
  | { type: 'error'; code: string; message: string }
  | { type: 'synced'; seq: number }
  | { type: 'info'; seq: number; stats: WorkerStats; upstreams: Upstream[]; resolvConf: ResolvConf }
  | { type: 'closed' }
