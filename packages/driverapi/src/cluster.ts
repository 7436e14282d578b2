import { CnmError } from './cnm-error.js'

/**
 * The cluster a global-scope driver (and the controller) shares with the other hosts: a small view
 * of a distributed key-value store (etcd v3 in `@cnm/etcd-store`). Keys and values are strings;
 * every write that must not race goes through {@link ClusterKV.txn} (compare-and-swap). When the
 * store cannot be reached every call fails fast (a short deadline) with a `CnmError` of code
 * {@link ERR_STORE_UNAVAILABLE} and kind `unavailable`.
 */

/** Code of every failure to reach the cluster store (kind `unavailable`). */
export const ERR_STORE_UNAVAILABLE = 'ERR_STORE_UNAVAILABLE'

/** One key as the store holds it. */
export interface KVEntry {
  key: string
  value: string
  /** The store revision of the key's last write (decimal text; compare as text for equality). */
  modRevision: string
  /** The lease the key is bound to (decimal text), or undefined when it outlives every host. */
  lease: string | undefined
}

/** A prefix read: its entries (sorted by key) and the store revision it was read at. */
export interface KVRange {
  entries: KVEntry[]
  /** Watch from `revision + 1` to see every change after this read, and none twice. */
  revision: string
}

/**
 * A condition of a transaction: a key absent, a key present, a key whose last write is at exactly
 * this revision, a key holding exactly this value, or no key at all under a prefix.
 */
export type KVCompare =
  | { key: string; absent: true }
  | { key: string; present: true }
  | { key: string; modRevision: string }
  | { key: string; value: string }
  | { prefix: string; empty: true }

/** A write of a transaction. `lease: 'host'` binds the key to this host's lease (gone when the host is). */
export type KVOp = { put: string; value: string; lease?: 'host' } | { delete: string } | { deletePrefix: string }

/** One change seen by a watch. `value` is empty for a delete. */
export interface KVEvent {
  type: 'put' | 'delete'
  key: string
  value: string
  modRevision: string
}

/** What happened to this host's lease: `lost` (expired or revoked), then `granted` (a new one). */
export type LeaseEvent = 'lost' | 'granted'

/** Options of a watch. */
export interface WatchOptions {
  /** The first revision to deliver (`range().revision` + 1 to follow a read without a gap). */
  fromRevision?: string
  /** Called when the watch cannot continue (for example the revision was compacted). */
  onError?: (err: Error) => void
}

/** The key-value view of the cluster store. */
export interface ClusterKV {
  /** The entry under `key`, or undefined. */
  get(key: string): Promise<KVEntry | undefined>
  /** Every entry whose key starts with `prefix`, and the revision read at. */
  range(prefix: string): Promise<KVRange>
  /**
   * Writes `ops` atomically when every condition holds; nothing when one does not. Returns whether
   * it committed (false: someone else won the race; read again and retry or give up).
   */
  txn(compare: readonly KVCompare[], ops: readonly KVOp[]): Promise<boolean>
  /** `txn([{ key, absent: true }], [{ put: key, value, lease }])`. */
  putIfAbsent(key: string, value: string, options?: { lease?: 'host' }): Promise<boolean>
  /** Deletes `key` only when its last write is `modRevision`; whether it did. */
  deleteIf(key: string, modRevision: string): Promise<boolean>
  /** Deletes `key` (whatever its value); whether it existed. */
  delete(key: string): Promise<boolean>
  /**
   * Follows every change under `prefix` until the returned function is called. Events of one key
   * arrive in order. The watch reconnects by itself when the store comes back.
   */
  watch(prefix: string, listener: (event: KVEvent) => void, options?: WatchOptions): Promise<() => Promise<void>>
  /** This host's lease (decimal text), kept alive by the store client; granted on first use. */
  hostLease(): Promise<string>
  /** The lease's time to live, in seconds. */
  readonly leaseTtl: number
  /** Tells `listener` when the host lease is lost and when a new one is granted; returns an unsubscribe. */
  onLease(listener: (event: LeaseEvent) => void): () => void
}

/**
 * The cluster a driver factory is given (absent on a daemon that joined none): where the store is,
 * who this host is, and the store itself.
 */
export interface ClusterContext {
  /** The store's client URLs (`http://10.0.0.1:2379`). */
  endpoints: readonly string[]
  /** The address other hosts reach this one at (the VXLAN underlay address, the VTEP). */
  advertise: string
  /** This host's name in the cluster (unique; `[A-Za-z0-9_.-]`), the key its records live under. */
  host: string
  /** Every key a cnm cluster writes starts with this prefix (`/cnm/`). */
  prefix: string
  kv: ClusterKV
}

/** The cluster store could not be reached in time (or refused): a global operation did not happen. */
export class StoreUnavailableError extends CnmError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ERR_STORE_UNAVAILABLE, 'unavailable', message, options)
  }
}

/**
 * An address handed out on a global network, as the cluster records it: one key per address,
 * `<prefix>ipam/<network id>/<ip>` → `{"host":…,"endpoint":…}`, bound to the lease of the host whose
 * endpoint holds it (gone with that host). One owner writes it: the controller, or a driver whose
 * capabilities say `claimsAddresses`. Claimed with one compare-and-swap (`absent`), released with
 * one (`value` still this claim's).
 */
export interface AddressClaim {
  host: string
  endpoint: string
}

/** Where a global network's address claims live. */
export function addressClaimsPrefix(c: Pick<ClusterContext, 'prefix'>, nid: string): string {
  return `${c.prefix}ipam/${nid}/`
}

/** The key of one address claim. */
export function addressClaimKey(c: Pick<ClusterContext, 'prefix'>, nid: string, ip: string): string {
  return `${addressClaimsPrefix(c, nid)}${ip}`
}

/** A claim's value, as written (the exact text a release compares against). */
export function addressClaimValue(claim: AddressClaim): string {
  return JSON.stringify({ host: claim.host, endpoint: claim.endpoint })
}

/** Parses a claim's value; undefined for anything malformed. */
export function parseAddressClaim(value: string): AddressClaim | undefined {
  try {
    const r = JSON.parse(value) as Record<string, unknown>
    return typeof r?.host === 'string' && typeof r.endpoint === 'string'
      ? { host: r.host, endpoint: r.endpoint }
      : undefined
  } catch {
    return undefined
  }
}
