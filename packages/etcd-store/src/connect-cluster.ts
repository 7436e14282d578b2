import type { ClusterContext } from '@cnm/driverapi'
import { InvalidConfigError } from '@cnm/driverapi'
import { createEtcdKV, type EtcdKV } from './etcd-kv.js'
import { checkHostName, parseStoreUrl } from './store-url.js'

/** What a host needs to join a cluster. */
export interface ConnectClusterOptions {
  /** `etcd://h1:2379,h2:2379`, or the members' client URLs. */
  store: string | readonly string[]
  /** This host's address as the others reach it (the VXLAN underlay address). */
  advertise: string
  /** This host's unique name (default: `advertise`). */
  host?: string
  /** Root of every key (default `/cnm/`). */
  prefix?: string
  /** Host lease time to live in seconds (default 5). */
  leaseTtl?: number
  /** Deadline of one store operation (default 5000 ms). */
  timeoutMs?: number
}

/** A joined cluster: what drivers and the controller are given, and `close()` for the daemon. */
export interface Cluster extends ClusterContext {
  kv: EtcdKV
  /**
   * Leaves the cluster: revokes this host's lease, so its membership and the addresses its
   * endpoints claimed are deleted at once (every other host sees it), then disconnects from etcd.
   * With `keepLease: true` the lease is not revoked: it expires after its TTL (default 5 s), and the
   * keys bound to it with it. A failed revoke is not thrown; the lease then expires.
   */
  close(options?: { keepLease?: boolean }): Promise<void>
}

const ADDRESS = /^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f:]+)$/u

/**
 * Parses the options (refused with `ERR_INVALID_CONFIG` before any connection) and makes the
 * cluster context. The connection is lazy: nothing is sent until the first operation.
 */
export function connectCluster(options: ConnectClusterOptions): Cluster {
  const endpoints = typeof options.store === 'string' ? parseStoreUrl(options.store) : [...options.store]
  if (endpoints.length === 0) throw new InvalidConfigError('cluster store: no member given')
  for (const e of endpoints) {
    if (!/^https?:\/\/[^/\s]+$/u.test(e))
      throw new InvalidConfigError(`cluster store member ${JSON.stringify(e)}: expected http://host:port`)
  }
  if (!ADDRESS.test(options.advertise)) {
    throw new InvalidConfigError(`advertise address ${JSON.stringify(options.advertise)}: expected an IP address`)
  }
  const host = checkHostName(options.host ?? options.advertise.replaceAll(':', '_'))
  const prefix = options.prefix ?? '/cnm/'
  if (!/^\/[A-Za-z0-9_./-]*\/$/u.test(prefix))
    throw new InvalidConfigError(`cluster prefix ${JSON.stringify(prefix)}: expected /…/`)
  const kv = createEtcdKV({
    endpoints,
    ...(options.leaseTtl !== undefined ? { leaseTtl: options.leaseTtl } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
  })
  return { endpoints, advertise: options.advertise, host, prefix, kv, close: (o) => kv.close(o) }
}
