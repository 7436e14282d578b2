import type {
  ClusterContext,
  ClusterKV,
  KVCompare,
  KVEntry,
  KVEvent,
  KVOp,
  KVRange,
  LeaseEvent,
  WatchOptions,
} from '@cnm/driverapi'

interface Stored {
  value: string
  modRevision: bigint
  lease: string | undefined
}

interface Watcher {
  prefix: string
  listener: (event: KVEvent) => void
  onError: ((err: Error) => void) | undefined
}

/**
 * An in-memory cluster store with etcd's semantics where the overlay driver relies on them:
 * revisions, compare-and-swap transactions, prefix watches delivered in order (after the writing
 * call returns, as etcd's would arrive), and leases whose expiry deletes their keys. For tests of
 * several "hosts" in one process (each {@link MemoryCluster.connect} is one host).
 */
export interface MemoryCluster {
  /** A host's view: its own lease, the shared keys. */
  connect(host: string, advertise: string): ClusterContext
  /**
   * Ends a host's lease as etcd does when it expires: its keys are deleted (watchers see it) and
   * the host is told `lost`; then, unless `regrant` is false, `granted` (a new lease on next use).
   */
  expire(host: string, options?: { regrant?: boolean }): void
  /** Tells a host whose lease expired (without regrant) that a new one is granted. */
  grant(host: string): void
  /** Every key and value, for assertions. */
  dump(): Map<string, string>
  /** Loses every change from now on (as a watch that fell behind a compaction would), until `compact`. */
  dropEvents(): void
  /** Ends every watch with an error (`compacted`), as etcd does when a watch's revision is gone. */
  compact(): void
  /** How many transactions and reads were made (a crude measure of store load). */
  readonly ops: { txn: number; range: number; get: number }
}

/**
 * Makes an empty in-memory cluster whose keys live under `prefix` (default `/cnm/`, as
 * `connectCluster` uses); connect each simulated host with {@link MemoryCluster.connect}.
 *
 * @example
 * ```ts
 * const cluster = createMemoryCluster()
 * const hostA = createOverlayDriver({ cluster: cluster.connect('a', '192.0.2.1') })
 * ```
 */
export function createMemoryCluster(prefix = '/cnm/'): MemoryCluster {
  const data = new Map<string, Stored>()
  const watchers = new Set<Watcher>()
  const leases = new Map<string, string>() // host → lease id
  const leaseListeners = new Map<string, Set<(e: LeaseEvent) => void>>()
  const ops = { txn: 0, range: 0, get: 0 }
  let revision = 1n
  let nextLease = 1
  let dropping = false

  const entry = (key: string, s: Stored): KVEntry => ({
    key,
    value: s.value,
    modRevision: String(s.modRevision),
    lease: s.lease,
  })
  const emit = (events: KVEvent[]): void => {
    if (events.length === 0 || dropping) return
    const targets = [...watchers]
    queueMicrotask(() => {
      for (const ev of events)
        for (const w of targets) if (watchers.has(w) && ev.key.startsWith(w.prefix)) w.listener(ev)
    })
  }
  const holds = (c: KVCompare): boolean => {
    if ('prefix' in c) return ![...data.keys()].some((k) => k.startsWith(c.prefix))
    const s = data.get(c.key)
    if ('absent' in c) return s === undefined
    if ('present' in c) return s !== undefined
    if ('value' in c) return s !== undefined && s.value === c.value
    return s !== undefined && String(s.modRevision) === c.modRevision
  }
  const apply = (ops: readonly KVOp[], lease: () => string): KVEvent[] => {
    revision++
    const events: KVEvent[] = []
    const del = (key: string): void => {
      if (data.delete(key)) events.push({ type: 'delete', key, value: '', modRevision: String(revision) })
    }
    for (const op of ops) {
      if ('put' in op) {
        data.set(op.put, { value: op.value, modRevision: revision, lease: op.lease === 'host' ? lease() : undefined })
        events.push({ type: 'put', key: op.put, value: op.value, modRevision: String(revision) })
      } else if ('delete' in op) {
        del(op.delete)
      } else {
        for (const key of [...data.keys()]) if (key.startsWith(op.deletePrefix)) del(key)
      }
    }
    return events
  }

  function connect(host: string, advertise: string): ClusterContext {
    const leaseOf = (): string => {
      let id = leases.get(host)
      if (!id) {
        id = String(nextLease++)
        leases.set(host, id)
      }
      return id
    }
    const listeners = leaseListeners.get(host) ?? new Set()
    leaseListeners.set(host, listeners)
    const kv: ClusterKV = {
      async get(key) {
        ops.get++
        const s = data.get(key)
        return s ? entry(key, s) : undefined
      },
      async range(p): Promise<KVRange> {
        ops.range++
        const entries = [...data.entries()]
          .filter(([k]) => k.startsWith(p))
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([k, s]) => entry(k, s))
        return { entries, revision: String(revision) }
      },
      async txn(compare, writes) {
        ops.txn++
        if (!compare.every(holds)) return false
        emit(apply(writes, leaseOf))
        return true
      },
      putIfAbsent(key, value, options) {
        return kv.txn(
          [{ key, absent: true }],
          [{ put: key, value, ...(options?.lease ? { lease: options.lease } : {}) }],
        )
      },
      deleteIf(key, modRevision) {
        return kv.txn([{ key, modRevision }], [{ delete: key }])
      },
      async delete(key) {
        const had = data.has(key)
        await kv.txn([], [{ delete: key }])
        return had
      },
      async watch(p, listener, options?: WatchOptions) {
        // No history is kept: callers read, then watch from the next revision in the same tick.
        const w: Watcher = { prefix: p, listener, onError: options?.onError }
        watchers.add(w)
        return async () => {
          watchers.delete(w)
        }
      },
      async hostLease() {
        return leaseOf()
      },
      leaseTtl: 5,
      onLease(listener) {
        listeners.add(listener)
        return () => listeners.delete(listener)
      },
    }
    return { endpoints: ['memory://'], advertise, host, prefix, kv }
  }

  return {
    connect,
    expire(host, options) {
      const id = leases.get(host)
      if (!id) return
      leases.delete(host)
      const keys = [...data.entries()].filter(([, s]) => s.lease === id).map(([k]) => k)
      emit(
        apply(
          keys.map((k) => ({ delete: k })),
          () => '',
        ),
      )
      for (const l of leaseListeners.get(host) ?? []) l('lost')
      if (options?.regrant !== false) for (const l of leaseListeners.get(host) ?? []) l('granted')
    },
    grant(host) {
      for (const l of leaseListeners.get(host) ?? []) l('granted')
    },
    dump: () => new Map([...data.entries()].map(([k, s]) => [k, s.value])),
    dropEvents() {
      dropping = true
    },
    compact() {
      dropping = false
      const ended = [...watchers]
      watchers.clear()
      for (const w of ended) w.onError?.(new Error('etcdserver: mvcc: required revision has been compacted'))
    },
    ops,
  }
}
