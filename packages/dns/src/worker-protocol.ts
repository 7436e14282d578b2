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

export type WorkerStats = DnsStats & { tcpConnections: number; inFlight: number; udpNative: number }

/** What the server's thread answers. */
export type FromWorker =
  | { type: 'ready'; port: number }
  | { type: 'error'; code: string; message: string }
  | { type: 'synced'; seq: number }
  | { type: 'info'; seq: number; stats: WorkerStats; upstreams: Upstream[]; resolvConf: ResolvConf }
  | { type: 'closed' }
