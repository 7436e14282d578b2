import type { AddressClaim, ClusterContext, KVEntry, KVEvent } from '@cnm/driverapi'
import { addressClaimsPrefix, addressClaimValue, CnmError, InvalidConfigError, parseAddressClaim } from '@cnm/driverapi'
import {
  addressFromValue,
  containsAddress,
  hostBounds,
  type IPPrefix,
  networksOverlap,
  parseAddress,
  parseCIDR,
} from '@cnm/ip'
import { ControllerError, ERR_ACTIVE_ENDPOINTS, nameExists, unknownNetwork } from './errors.js'
import { ERR_NETWORK_OVERLAPS, type NamedSubnet, overlapError, overlapping } from './global-overlaps.js'

/** A global network as the cluster records it (`<prefix>networks/<id>`). */
export interface GlobalNetworkRecord {
  id: string
  name: string
  type: string
  /** The driver's options with the subnet the cluster allocated (`addressIPv4`) filled in. */
  options: Record<string, unknown>
  subnet: string
  gateway: string
  /** A dual-stack network's IPv6 subnet (its driver's `fixedCIDRv6`), claimed cluster-wide too. */
  subnetV6?: string
  /** The host that created it. */
  host: string
}

/** An address the cluster records as an endpoint's (`<prefix>ipam/<network>/<ip>`, under its host's lease). */
export type { AddressClaim }

/** A host the cluster knows (`<prefix>hosts/<name>`, under its lease). */
export interface ClusterMember {
  host: string
  advertise: string
}

/**
 * The address asked for an endpoint of a global network is claimed by another endpoint somewhere in
 * the cluster. Kind `conflict`.
 */
export const ERR_ADDRESS_IN_USE = 'ERR_ADDRESS_IN_USE'
/**
 * A global network has no free address left (or every attempt lost the race to other hosts), or
 * {@link GLOBAL_POOL} has no free /24 left for a new global network. Kind `conflict`.
 */
export const ERR_NO_AVAILABLE_IPS = 'ERR_NO_AVAILABLE_IPS'
export { ERR_NETWORK_OVERLAPS }
/**
 * A global-scope driver (`overlay`) used on a host that joined no cluster: start the daemon with
 * `--cluster-store etcd://… --advertise ADDRESS`. Kind `unavailable`.
 */
export const ERR_NO_CLUSTER = 'ERR_NO_CLUSTER'

/** The default pool global networks' /24 subnets come from when none is asked for. */
export const GLOBAL_POOL = '10.128.0.0/9'
const POOL_PREFIX = 24
/** Claims that lose a race are retried on another address this many times. */
const CLAIM_ATTEMPTS = 64
/** Random addresses tried without reading the pool first. */
const BLIND_ATTEMPTS = 3

const subnetKey = (cidr: string): string => cidr.replace('/', '_')

/**
 * The global-scope store: what the cluster shares in etcd, through the `ClusterKV` of
 * `@cnm/driverapi`. Networks of global-scope drivers (their names and subnets unique cluster-wide,
 * allocated with compare-and-swap), every address handed out on them (a key per address, bound to
 * the lease of the host whose endpoint holds it: when that host dies, its addresses return to the
 * pool), and the hosts (membership). Endpoints themselves stay in their host's local store.
 */
export class GlobalStore {
  readonly cluster: ClusterContext
  readonly #p: string

  constructor(cluster: ClusterContext) {
    this.cluster = cluster
    this.#p = cluster.prefix
  }

  /** This host's name in the cluster (`ClusterContext.host`): the key of its membership record. */
  get host(): string {
    return this.cluster.host
  }

  /** The etcd key of a global network's record: `<prefix>networks/<id>`. */
  networkKey(id: string): string {
    return `${this.#p}networks/${id}`
  }

  /**
   * The etcd key prefix of every global network's record (`<prefix>networks/`), what
   * {@link GlobalStore.networks} reads and {@link GlobalStore.watchNetworks} follows.
   */
  get networksPrefix(): string {
    return `${this.#p}networks/`
  }

  /** The etcd key prefix under which a global network's address claims live (one key per address). */
  ipamPrefix(nid: string): string {
    return addressClaimsPrefix(this.cluster, nid)
  }

  /** Registers this host under its lease (again after the lease was lost and re-granted). */
  async register(): Promise<void> {
    const kv = this.cluster.kv
    const value = JSON.stringify({ host: this.host, advertise: this.cluster.advertise } satisfies ClusterMember)
    await kv.txn([], [{ put: `${this.#p}hosts/${this.host}`, value, lease: 'host' }])
  }

  /** The hosts whose lease is alive. */
  async members(): Promise<ClusterMember[]> {
    const { entries } = await this.cluster.kv.range(`${this.#p}hosts/`)
    return entries.map((e) => JSON.parse(e.value) as ClusterMember)
  }

  /**
   * Every global network the cluster records, with the store revision they were read at (to watch
   * from with {@link GlobalStore.watchNetworks} without missing a change).
   */
  async networks(): Promise<{ records: GlobalNetworkRecord[]; revision: string }> {
    const r = await this.cluster.kv.range(this.networksPrefix)
    return { records: r.entries.map((e) => JSON.parse(e.value) as GlobalNetworkRecord), revision: r.revision }
  }

  /** Follows global networks being created and deleted (from `fromRevision`). */
  watchNetworks(
    fromRevision: string,
    listener: (event: { type: 'put'; record: GlobalNetworkRecord } | { type: 'delete'; id: string }) => void,
    onError?: (err: Error) => void,
  ): Promise<() => Promise<void>> {
    const prefix = this.networksPrefix
    return this.cluster.kv.watch(
      prefix,
      (e: KVEvent) => {
        if (e.type === 'put') listener({ type: 'put', record: JSON.parse(e.value) as GlobalNetworkRecord })
        else listener({ type: 'delete', id: e.key.slice(prefix.length) })
      },
      { fromRevision, ...(onError ? { onError } : {}) },
    )
  }

  /**
   * Records a new global network: its name and its subnet claimed cluster-wide in one transaction.
   * The subnet is the one `addressIPv4` names, or the first free /24 of {@link GLOBAL_POOL}; no two
   * networks' subnets overlap, whatever the timing (every allocation compares the subnet index's
   * revision, so a racing one retries on what the winner wrote).
   */
  async claimNetwork(
    id: string,
    name: string,
    type: string,
    options: Record<string, unknown>,
    local: readonly NamedSubnet[] = [],
  ): Promise<GlobalNetworkRecord> {
    const kv = this.cluster.kv
    const asked = typeof options.addressIPv4 === 'string' ? parseCIDR(options.addressIPv4) : undefined
    const askedV6 = typeof options.fixedCIDRv6 === 'string' ? parseCIDR(options.fixedCIDRv6) : undefined
    const v6Only = options.enableIPv4 === false
    if (v6Only && (!askedV6 || asked)) {
      throw new InvalidConfigError(
        `network ${name}: an IPv6-only network (enableIPv4 false) needs an IPv6 subnet and no IPv4 one`,
      )
    }
    const indexKey = `${this.#p}subnets-index`
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const index = await kv.get(indexKey)
      const taken = (await kv.range(`${this.#p}subnets/`)).entries.map((e) =>
        e.key.slice(`${this.#p}subnets/`.length).replace('_', '/'),
      )
      let gwPrefix: IPPrefix | undefined
      if (v6Only) {
        gwPrefix = undefined
      } else if (asked) {
        const mine = local.find((l) => overlapping(asked.cidr, [l]))
        if (mine) throw overlapError(name, asked.cidr, mine, 'local')
        const clash = taken.find((t) => networksOverlap(t, asked))
        if (clash) throw overlapError(name, asked.cidr, await this.#namedSubnet(clash), 'global')
        gwPrefix = asked
      } else {
        const free = firstFree([...taken, ...local.map((l) => l.cidr).filter((c) => !c.includes(':'))])
        if (!free)
          throw new CnmError(ERR_NO_AVAILABLE_IPS, 'conflict', `network ${name}: no free /24 left in ${GLOBAL_POOL}`)
        gwPrefix = free
      }
      if (askedV6) {
        const mine = local.find((l) => overlapping(askedV6.cidr, [l]))
        if (mine) throw overlapError(name, askedV6.cidr, mine, 'local')
        const clash = taken.find((t) => networksOverlap(t, askedV6))
        if (clash) throw overlapError(name, askedV6.cidr, await this.#namedSubnet(clash), 'global')
      }
      // An IPv6-only network's one subnet is its IPv6 one (`subnet`, no `subnetV6`).
      const subnet = parseCIDR(gwPrefix?.cidr ?? askedV6?.cidr ?? '')
      const gateway =
        gwPrefix && asked && asked.addressValue !== asked.networkValue
          ? asked.address
          : addressFromValue(subnet.family, subnet.networkValue + 1n).text
      const record: GlobalNetworkRecord = {
        id,
        name,
        type,
        options: gwPrefix ? { ...options, addressIPv4: `${gateway}/${subnet.prefixLength}` } : { ...options },
        subnet: subnet.cidr,
        gateway,
        ...(gwPrefix && askedV6 ? { subnetV6: askedV6.cidr } : {}),
        host: this.host,
      }
      const nameKey = `${this.#p}names/${name}`
      const ok = await kv.txn(
        [
          index ? { key: indexKey, modRevision: index.modRevision } : { key: indexKey, absent: true },
          { key: nameKey, absent: true },
          { key: this.networkKey(id), absent: true },
        ],
        [
          { put: indexKey, value: subnet.cidr },
          { put: `${this.#p}subnets/${subnetKey(subnet.cidr)}`, value: id },
          ...(record.subnetV6 ? [{ put: `${this.#p}subnets/${subnetKey(record.subnetV6)}`, value: id }] : []),
          { put: nameKey, value: id },
          { put: this.networkKey(id), value: JSON.stringify(record) },
        ],
      )
      if (ok) return record
      if (await kv.get(nameKey)) throw nameExists(name)
    }
    throw new CnmError(
      ERR_NETWORK_OVERLAPS,
      'conflict',
      `network ${name}: lost the subnet race ${CLAIM_ATTEMPTS} times`,
    )
  }

  /** A claimed subnet with the name of the global network holding it (for an overlap error). */
  async #namedSubnet(cidr: string): Promise<NamedSubnet> {
    const holder = await this.cluster.kv.get(`${this.#p}subnets/${subnetKey(cidr)}`)
    const record = holder ? await this.cluster.kv.get(this.networkKey(holder.value)) : undefined
    const name = record ? (JSON.parse(record.value) as GlobalNetworkRecord).name : (holder?.value ?? '?')
    return { name, cidr }
  }

  /**
   * Removes a global network's records, only when no host holds an address on it (then every
   * host's daemon removes it from its kernel as it sees the delete).
   */
  async releaseNetwork(record: GlobalNetworkRecord): Promise<void> {
    const kv = this.cluster.kv
    const cur = await kv.get(this.networkKey(record.id))
    if (!cur) return
    const ok = await kv.txn(
      [
        { key: this.networkKey(record.id), modRevision: cur.modRevision },
        { prefix: this.ipamPrefix(record.id), empty: true },
      ],
      [
        { delete: this.networkKey(record.id) },
        { delete: `${this.#p}names/${record.name}` },
        { delete: `${this.#p}subnets/${subnetKey(record.subnet)}` },
        ...(record.subnetV6 ? [{ delete: `${this.#p}subnets/${subnetKey(record.subnetV6)}` }] : []),
      ],
    )
    if (!ok) {
      const held = (await kv.range(this.ipamPrefix(record.id))).entries.length
      throw new ControllerError(
        ERR_ACTIVE_ENDPOINTS,
        `network ${record.name} has ${held} active endpoint(s) in the cluster`,
      )
    }
  }

  /**
   * Claims an address for an endpoint of this host on a global network: the one asked for, or a
   * free one of the network's range (picked at random among the free ones, so that hosts claiming
   * at once rarely collide; a lost race retries on another). The claim is bound to this host's
   * lease and made only while the network exists.
   */
  async claimAddress(record: GlobalNetworkRecord, eid: string, asked?: string): Promise<string> {
    const kv = this.cluster.kv
    const netKey = this.networkKey(record.id)
    const prefix = this.ipamPrefix(record.id)
    const value = addressClaimValue({ host: this.host, endpoint: eid })
    const claim = (ip: string): Promise<boolean> =>
      kv.txn(
        [
          { key: netKey, present: true },
          { key: prefix + ip, absent: true },
        ],
        [{ put: prefix + ip, value, lease: 'host' }],
      )
    if (asked !== undefined) {
      if (await claim(asked)) return asked
      if (!(await kv.get(netKey))) throw unknownNetwork(record.name)
      throw new CnmError(
        ERR_ADDRESS_IN_USE,
        'conflict',
        `network ${record.name}: address ${asked} is already in use in the cluster`,
      )
    }
    const range = rangeOf(record)
    const lost = new Set<string>()
    // Blind first: a random address claimed straight away costs one transaction and wins unless
    // the pool is nearly full; only after a few losses is the whole pool read to pick a free one.
    for (let attempt = 0; attempt < BLIND_ATTEMPTS; attempt++) {
      const ip = pickFree(range, record.gateway, lost, lost)
      if (ip === undefined) break
      if (await claim(ip)) return ip
      lost.add(ip)
    }
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const used = new Set((await kv.range(prefix)).entries.map((e) => e.key.slice(prefix.length)))
      const ip = pickFree(range, record.gateway, used, lost)
      if (ip === undefined) {
        throw new CnmError(
          ERR_NO_AVAILABLE_IPS,
          'conflict',
          `network ${record.name}: no available addresses in ${range.cidr}`,
        )
      }
      if (await claim(ip)) return ip
      if (!(await kv.get(netKey))) throw unknownNetwork(record.name)
      lost.add(ip)
    }
    throw new CnmError(
      ERR_NO_AVAILABLE_IPS,
      'conflict',
      `network ${record.name}: lost the address race ${CLAIM_ATTEMPTS} times`,
    )
  }

  /**
   * Frees an endpoint's address of this host, if the claim is still that endpoint's: one
   * compare-and-swap transaction on the claim's value.
   */
  async releaseAddress(nid: string, ip: string, eid: string): Promise<void> {
    const key = this.ipamPrefix(nid) + ip
    await this.cluster.kv.txn(
      [{ key, value: addressClaimValue({ host: this.host, endpoint: eid }) }],
      [{ delete: key }],
    )
  }

  /**
   * Makes the cluster's record of an endpoint of this host agree with the host (after a restart, or
   * a lost lease): the claim is re-bound to this host's current lease, or made again when it
   * vanished. Returns the claim of another endpoint that took the address meanwhile, if any.
   */
  async reclaimAddress(nid: string, ip: string, eid: string): Promise<AddressClaim | undefined> {
    const kv = this.cluster.kv
    const key = this.ipamPrefix(nid) + ip
    const value = addressClaimValue({ host: this.host, endpoint: eid })
    for (let attempt = 0; attempt < 8; attempt++) {
      const cur: KVEntry | undefined = await kv.get(key)
      if (!cur) {
        if (await kv.putIfAbsent(key, value, { lease: 'host' })) return undefined
        continue
      }
      const claim = parseAddressClaim(cur.value) ?? { host: '?', endpoint: '?' }
      if (claim.endpoint !== eid) return claim
      if (cur.lease === (await kv.hostLease())) return undefined
      if (await kv.txn([{ key, modRevision: cur.modRevision }], [{ put: key, value, lease: 'host' }])) return undefined
    }
    return undefined
  }

  /** Every address claim of one network (ip → claim). */
  async addresses(nid: string): Promise<Map<string, AddressClaim>> {
    const prefix = this.ipamPrefix(nid)
    const { entries } = await this.cluster.kv.range(prefix)
    return new Map(
      entries.map((e) => [e.key.slice(prefix.length), parseAddressClaim(e.value) ?? { host: '?', endpoint: '?' }]),
    )
  }
}

/** Where a global network's endpoint addresses come from: its `fixedCIDR`, else its subnet. */
function rangeOf(record: GlobalNetworkRecord): IPPrefix {
  const fixed = record.options.fixedCIDR
  return parseCIDR(typeof fixed === 'string' ? fixed : record.subnet)
}

/** A free host address of `range` (not the gateway, not used, not lost), from a random start. */
function pickFree(range: IPPrefix, gateway: string, used: Set<string>, lost: Set<string>): string | undefined {
  const { first, last } = hostBounds(range)
  const size = last - first + 1n
  if (size <= 0n) return undefined
  const start = BigInt(Math.floor(Math.random() * Number(size > 1_000_000n ? 1_000_000n : size)))
  const limit = size > 70_000n ? 70_000n : size
  for (let i = 0n; i < limit; i++) {
    const ip = addressFromValue(range.family, first + ((start + i) % size)).text
    if (ip !== gateway && !used.has(ip) && !lost.has(ip)) return ip
  }
  return undefined
}

/** The first /24 of the global pool that overlaps none of `taken` (each gateway-addressed `.1/24`). */
function firstFree(taken: string[]): IPPrefix | undefined {
  const pool = parseCIDR(GLOBAL_POOL)
  const step = 1n << BigInt(32 - POOL_PREFIX)
  for (let v = pool.networkValue; v + step - 1n <= pool.lastValue; v += step) {
    const cidr = `${addressFromValue(4, v).text}/${POOL_PREFIX}`
    if (!taken.some((t) => networksOverlap(t, cidr)))
      return parseCIDR(`${addressFromValue(4, v + 1n).text}/${POOL_PREFIX}`)
  }
  return undefined
}

/** Whether `ip` lies in a record's subnet (for the endpoint options a caller passed). */
export function inSubnet(record: GlobalNetworkRecord, ip: string): boolean {
  try {
    return containsAddress(record.subnet, parseAddress(ip))
  } catch {
    return false
  }
}

/** The error for a global-scope driver used on a host that joined no cluster. */
export function noCluster(type: string): ControllerError {
  return new ControllerError(
    ERR_NO_CLUSTER,
    `driver ${type} has global scope: this host joined no cluster (cnm serve --cluster-store etcd://… --advertise ADDRESS)`,
    { kind: 'unavailable' },
  )
}
