import type { ClusterKV, KVCompare, KVEntry, KVEvent, KVOp, KVRange, LeaseEvent, WatchOptions } from '@cnm/driverapi'
import { StoreUnavailableError } from '@cnm/driverapi'
import { ConsecutiveBreaker, circuitBreaker, ExponentialBackoff, handleWhen, retry } from 'cockatiel'
import {
  Etcd3,
  EtcdLeaseInvalidError,
  type ICompare,
  type IKeyValue,
  type IRequestOp,
  isRecoverableError,
  type Lease,
} from 'etcd3'
import { unavailable, withDeadline } from './errors.js'

/** How to reach etcd and how long to wait for it. */
export interface EtcdKVOptions {
  /** Client URLs of the members (`http://10.0.0.1:2379`). */
  endpoints: readonly string[]
  /** Time to live of this host's lease, in seconds (default 5). */
  leaseTtl?: number
  /**
   * Deadline of one operation, retries on other members included (default 5000 ms: long enough to
   * ride out a leader election after a member dies, short enough to fail fast when all are gone).
   */
  timeoutMs?: number
}

/** The etcd-backed {@link ClusterKV}, with `close()` (revokes nothing: the lease simply expires). */
export interface EtcdKV extends ClusterKV {
  /** Operations sent to etcd so far (range, txn, delete, lease grant): the load a host puts on it. */
  readonly stats: { reads: number; txns: number; writes: number; watches: number }
  /** Revokes this host's lease (its lease-bound keys vanish now) unless `keepLease`, then disconnects. */
  close(options?: { keepLease?: boolean }): Promise<void>
}

const buf = (s: string): Buffer => Buffer.from(s, 'utf8')

/** The first key after every key starting with `prefix` (etcd's `range_end` for a prefix). */
function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix, 'utf8')
  for (let i = b.length - 1; i >= 0; i--) {
    if ((b[i] ?? 0) < 0xff) {
      const out = Buffer.from(b.subarray(0, i + 1))
      out[i] = (out[i] ?? 0) + 1
      return out
    }
  }
  return Buffer.from([0])
}

function entry(kv: IKeyValue): KVEntry {
  const lease = String(kv.lease ?? '0')
  return {
    key: kv.key.toString('utf8'),
    value: kv.value.toString('utf8'),
    modRevision: String(kv.mod_revision),
    lease: lease === '0' ? undefined : lease,
  }
}

/**
 * Connects (lazily) to etcd v3 through the `etcd3` client. Every call has a short deadline and
 * fails with `ERR_STORE_UNAVAILABLE`; a call to a dead member is retried on another one (the
 * client's per-member circuit breaker then avoids it for a while), a few times and spaced out so
 * that a leader's election passes, so losing one member of three costs no operation.
 */
export function createEtcdKV(options: EtcdKVOptions): EtcdKV {
  const timeoutMs = options.timeoutMs ?? 5000
  const attemptMs = Math.max(200, Math.floor(timeoutMs / 3))
  const leaseTtl = options.leaseTtl ?? 5
  const client = new Etcd3({
    hosts: [...options.endpoints],
    dialTimeout: attemptMs,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + attemptMs }),
    faultHandling: {
      host: () =>
        circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 2000, breaker: new ConsecutiveBreaker(2) }),
      // Spaced out (50 ms, then up to 500): when the member that died was the leader, the others
      // answer "unavailable" until they elect one (an election timeout, 1 s by default, and a vote);
      // four attempts at once all fell inside it. The call's deadline still bounds the whole.
      global: retry(handleWhen(isRecoverableError), {
        maxAttempts: 4,
        backoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: 500 }),
      }),
    },
  })
  const stats = { reads: 0, txns: 0, writes: 0, watches: 0 }
  const leaseListeners = new Set<(e: LeaseEvent) => void>()
  let lease: Lease | undefined
  let leaseId: Promise<string> | undefined
  let closed = false
  let regrant: NodeJS.Timeout | undefined

  const emit = (e: LeaseEvent): void => {
    for (const l of leaseListeners) {
      try {
        l(e)
      } catch {}
    }
  }

  const keepers = new Map<Lease, NodeJS.Timeout>()

  /** Stops a lease's keepalives and lets it go (it expires in etcd after its TTL). */
  const letGo = (l: Lease): void => {
    clearInterval(keepers.get(l))
    keepers.delete(l)
    l.release()
  }

  /** The current lease is gone (etcd said so, or it went unanswered for two TTLs). */
  const onLost = (l: Lease): void => {
    letGo(l)
    if (lease !== l || closed) return
    lease = undefined
    leaseId = undefined
    emit('lost')
    scheduleRegrant(0)
  }

  /**
   * Keeps a lease alive with one keepalive at a time every TTL/3, on a timer this client owns
   * (stopped by `letGo`): the etcd3 client's own loop can end up running twice after stream
   * errors, and a released lease then stays alive. Unanswered for two TTLs, the lease is lost.
   */
  const keepAlive = (l: Lease): void => {
    let lastOk = Date.now()
    let busy = false
    const everyMs = (leaseTtl * 1000) / 3
    const timer = setInterval(() => {
      if (busy || !keepers.has(l)) return
      busy = true
      withDeadline('keep the host lease alive', Math.max(1000, everyMs), () => l.keepaliveOnce())
        .then(
          () => {
            lastOk = Date.now()
          },
          () => {
            // An expired lease makes etcd3 emit `lost` itself; an unreachable etcd is waited out.
            if (Date.now() - lastOk > 2 * leaseTtl * 1000) onLost(l)
          },
        )
        .finally(() => {
          busy = false
        })
    }, everyMs)
    timer.unref()
    keepers.set(l, timer)
  }

  /** Grants a new host lease: `lease`/`leaseId` name it until it fails, is lost or is dropped. */
  const grant = (): Promise<string> => {
    if (closed) return Promise.reject(new StoreUnavailableError('cluster store client closed'))
    const l = client.lease(leaseTtl, { autoKeepAlive: false })
    lease = l
    stats.writes++
    l.on('lost', () => onLost(l))
    const p = withDeadline('grant the host lease', timeoutMs, () => l.grant())
    leaseId = p
    p.then(
      () => {
        if (lease === l && !closed) keepAlive(l)
        else letGo(l)
      },
      () => {
        // Only this grant's own lease is let go (a later one may be current by now).
        letGo(l)
        if (leaseId === p) leaseId = undefined
        if (lease === l) lease = undefined
      },
    )
    return p
  }

  const scheduleRegrant = (delay: number): void => {
    if (closed || regrant) return
    regrant = setTimeout(() => {
      regrant = undefined
      if (closed || leaseId) return
      grant().then(
        () => emit('granted'),
        () => scheduleRegrant(1000),
      )
    }, delay)
  }

  /** The lease etcd says is gone: listeners hear `lost`, then `granted` once a new one is. */
  const dropLease = (): void => {
    const l = lease
    lease = undefined
    leaseId = undefined
    if (l) letGo(l)
    emit('lost')
    grant().then(
      () => emit('granted'),
      () => scheduleRegrant(1000),
    )
  }

  const hostLease = (): Promise<string> => leaseId ?? grant()

  const compareOf = (c: KVCompare): ICompare => {
    if ('prefix' in c) {
      // Over a range, etcd compares every key in it, and an empty range as one key never created.
      return {
        key: buf(c.prefix),
        range_end: prefixEnd(c.prefix),
        target: 'Create',
        result: 'Equal',
        create_revision: 0,
      }
    }
    if ('absent' in c) return { key: buf(c.key), target: 'Create', result: 'Equal', create_revision: 0 }
    if ('present' in c) return { key: buf(c.key), target: 'Create', result: 'Greater', create_revision: 0 }
    if ('value' in c) return { key: buf(c.key), target: 'Value', result: 'Equal', value: buf(c.value) }
    return { key: buf(c.key), target: 'Mod', result: 'Equal', mod_revision: c.modRevision }
  }

  const opOf = async (op: KVOp): Promise<IRequestOp> => {
    if ('put' in op) {
      const leaseField = op.lease === 'host' ? { lease: await hostLease() } : {}
      return { request_put: { key: buf(op.put), value: buf(op.value), ...leaseField } }
    }
    if ('delete' in op) return { request_delete_range: { key: buf(op.delete) } }
    return { request_delete_range: { key: buf(op.deletePrefix), range_end: prefixEnd(op.deletePrefix) } }
  }

  const kv: EtcdKV = {
    leaseTtl,
    stats,
    get: (key) =>
      withDeadline(`get ${key}`, timeoutMs, async () => {
        stats.reads++
        const res = await client.kv.range({ key: buf(key) })
        const first = res.kvs[0]
        return first ? entry(first) : undefined
      }),
    range: (prefix): Promise<KVRange> =>
      withDeadline(`range ${prefix}`, timeoutMs, async () => {
        stats.reads++
        const res = await client.kv.range({ key: buf(prefix), range_end: prefixEnd(prefix) })
        return { entries: res.kvs.map(entry), revision: String(res.header.revision) }
      }),
    txn: (compare, ops) =>
      withDeadline('transaction', timeoutMs, async () => {
        for (let attempt = 0; ; attempt++) {
          const success = await Promise.all(ops.map(opOf))
          const current = leaseId
          stats.txns++
          try {
            const res = await client.kv.txn({ compare: compare.map(compareOf), success, failure: [] })
            return res.succeeded
          } catch (err) {
            // etcd let the lease expire before the client noticed (a stalled process): it is lost
            // (its keys are gone), a new one is granted, and the transaction runs once more on it.
            if (!(err instanceof EtcdLeaseInvalidError) || attempt > 0) throw err
            if (current !== undefined && leaseId === current) dropLease() // not twice for one loss
          }
        }
      }),
    putIfAbsent: (key, value, opts) =>
      kv.txn([{ key, absent: true }], [{ put: key, value, ...(opts?.lease ? { lease: opts.lease } : {}) }]),
    deleteIf: (key, modRevision) => kv.txn([{ key, modRevision }], [{ delete: key }]),
    delete: (key) =>
      withDeadline(`delete ${key}`, timeoutMs, async () => {
        stats.writes++
        const res = await client.kv.deleteRange({ key: buf(key) })
        return String(res.deleted) !== '0'
      }),
    watch: (prefix, listener: (e: KVEvent) => void, wopts: WatchOptions = {}) =>
      withDeadline(`watch ${prefix}`, timeoutMs, async () => {
        stats.watches++
        let builder = client.watch().prefix(prefix)
        if (wopts.fromRevision !== undefined) builder = builder.startRevision(wopts.fromRevision)
        const watcher = await builder.create()
        watcher.on('put', (e) => listener({ type: 'put', ...pick(e) }))
        watcher.on('delete', (e) => listener({ type: 'delete', ...pick(e), value: '' }))
        watcher.on('error', (err) => wopts.onError?.(unavailable(`watch ${prefix}`, err)))
        return async () => {
          try {
            await watcher.cancel()
          } catch {}
        }
      }),
    hostLease,
    onLease: (listener) => {
      leaseListeners.add(listener)
      return () => void leaseListeners.delete(listener)
    },
    close: async (copts = {}) => {
      closed = true
      clearTimeout(regrant)
      const l = lease
      lease = undefined
      for (const other of [...keepers.keys()]) if (other !== l) letGo(other)
      if (l && !copts.keepLease) {
        clearInterval(keepers.get(l))
        keepers.delete(l)
        try {
          await withDeadline('revoke the host lease', timeoutMs, () => l.revoke())
        } catch {}
      } else if (l) letGo(l)
      client.close()
    },
  }
  return kv
}

function pick(kv: IKeyValue): { key: string; value: string; modRevision: string } {
  return { key: kv.key.toString('utf8'), value: kv.value.toString('utf8'), modRevision: String(kv.mod_revision) }
}
