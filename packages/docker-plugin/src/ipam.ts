import { randomBytes } from 'node:crypto'
import { networkInterfaces } from 'node:os'
import type { NetworkController, NetworkInspect } from '@cnm/controller'
import {
  addressFromValue,
  containsAddress,
  containsPrefix,
  hostBounds,
  type IPPrefix,
  networksOverlap,
  parseCIDR,
  tryParseAddress,
  tryParseCIDR,
} from '@cnm/ip'
import {
  DockerPluginError,
  ERR_DOCKER_ADDRESS_IN_USE,
  ERR_DOCKER_NO_ADDRESS,
  ERR_DOCKER_UNKNOWN_OBJECT,
  invalidRequest,
} from './errors.js'
import type { StateFile } from './state-file.js'

/** The option dockerd sets when it asks for a network's gateway address. */
export const REQUEST_ADDRESS_TYPE = 'RequestAddressType'
export const GATEWAY_TYPE = 'com.docker.network.gateway'

export interface RequestPoolRequest {
  AddressSpace?: string
  Pool?: string
  SubPool?: string
  Options?: Record<string, string> | null
  V6?: boolean
}
export interface RequestAddressRequest {
  PoolID: string
  Address?: string
  Options?: Record<string, string> | null
}

/** A pool as its id spells it: the subnet, and the range addresses are handed from. */
interface Pool {
  id: string
  subnet: IPPrefix
  range: IPPrefix
}

/**
 * How long after dockerd asked for a pool one whose network does not exist is taken for orphaned
 * (its network removed with `cnm network rm`, or by dockerd while cnm was down).
 */
export const ORPHAN_POOL_MS = 60_000

/**
 * How long an address handed out to dockerd for a cnm network may go without an endpoint holding
 * it before it is taken for lost (dockerd's CreateEndpoint follows RequestAddress at once): its
 * endpoint was removed by cnm itself (`cnm endpoint rm`, a reconcile), or dockerd's calls failed
 * while cnm was down, and its ReleaseAddress never comes.
 */
export const STALE_ADDRESS_MS = 60_000

/** Docker's automatic IPv4 pools, in the order its default IPAM tries them. */
const AUTO_V4 = [
  ...Array.from({ length: 15 }, (_, i) => `172.${17 + i}.0.0/16`),
  ...Array.from({ length: 16 }, (_, i) => `192.168.${i * 16}.0/20`),
]

/**
 * A pool's id is its subnet, with the range after a comma when `--ip-range` narrowed it: nothing to
 * look up, so a pool dockerd names after a restart of cnm is understood as it was.
 */
export function parsePoolId(id: unknown): Pool {
  const [s, r, ...rest] = typeof id === 'string' ? id.split(',') : []
  const subnet = tryParseCIDR(s)
  const range = r === undefined ? subnet : tryParseCIDR(r)
  if (subnet === undefined || range === undefined || rest.length > 0 || subnet.cidr !== s || range.cidr !== (r ?? s)) {
    throw new DockerPluginError(ERR_DOCKER_UNKNOWN_OBJECT, `pool ${JSON.stringify(id)} is not a pool of cnm's IPAM`)
  }
  return { id: id as string, subnet, range }
}

/** The IPAM side: pools from the request (or a free one), addresses as cnm's networks hold them. */
export interface Ipam {
  requestPool(req: RequestPoolRequest): { PoolID: string; Pool: string; Data: Record<string, string> }
  releasePool(poolId: string): void
  requestAddress(req: RequestAddressRequest): { Address: string; Data: Record<string, string> }
  releaseAddress(poolId: string, address: string): void
  /** Writes what was released and not written yet (at once). */
  flush(): void
}

/**
 * cnm's IPAM for dockerd. It agrees with the cnm network's own allocator by asking it: an address is
 * free when no endpoint of the Docker network's cnm network holds it, it is not that network's
 * gateway, not one of its auxiliary addresses (kept in the state file), and not handed out by an
 * earlier `RequestAddress` whose endpoint is not made yet (held in memory until `ReleaseAddress`).
 * Order of dockerd's calls: pool → gateway address (before the network exists) → CreateNetwork;
 * address → CreateEndpoint (which takes that very address); DeleteEndpoint → ReleaseAddress; and
 * DeleteNetwork → ReleasePool. It hands out the lowest free address, as Docker's own IPAM does: a
 * container restarted (or disconnected and connected again) gets its address back, as with Docker.
 * A connect given an address whose endpoint's teardown is still running (the daemon deletes the
 * veth and flushes the conntrack entries just after the delete answered) waits for it.
 */
export function createIpam(controller: NetworkController, state: StateFile): Ipam {
  // Every subnet of every network (several per family when a network has them).
  const subnetsOf = (i: NetworkInspect): { subnet: string | undefined; gateway: string | undefined }[] =>
    i.subnets ?? [
      { subnet: i.subnet, gateway: i.gateway },
      { subnet: i.subnetIPv6, gateway: i.gatewayIPv6 },
    ]
  const networkSubnets = (): IPPrefix[] =>
    controller
      .networks()
      .flatMap((n) => subnetsOf(n.inspect()).map((s) => s.subnet))
      .map((s) => tryParseCIDR(s))
      .filter((p): p is IPPrefix => p !== undefined)

  const recorded = state.reservations()
  // What a restart keeps: the pools of networks cnm still has, and their addresses. A pool whose
  // network never came, or went while cnm was down (dockerd's ReleasePool then failed), is let go.
  const live = new Set(networkSubnets().map((p) => p.cidr))
  /** Pools handed out and not released (recorded in the state file: they outlive a restart). */
  const pools = new Map<string, Pool>()
  /** When each pool was handed out (one read from the state file: at the start). */
  const handedAt = new Map<string, number>()
  /**
   * The pools a cnm network was seen to hold: only those are ever taken for orphaned. A pool of a
   * network of another driver (`-d bridge --ipam-driver cnm`) never has a cnm network.
   */
  const seenLive = new Set<string>()
  for (const id of recorded.pools) {
    const pool = parsePoolId(id) // the state file's entries are parsed when it is read: a pool id
    if (!live.has(pool.subnet.cidr)) continue
    pools.set(id, pool)
    handedAt.set(id, Date.now())
    seenLive.add(id)
  }
  /** Addresses handed out per subnet, not released yet (recorded too). */
  const handedOut = new Map<string, Set<string>>(
    Object.entries(recorded.addresses)
      .filter(([subnet]) => live.has(subnet))
      .map(([subnet, addresses]) => [subnet, new Set(addresses)]),
  )
  /** When each address was handed out (`subnet address`; those read from the state file: at the start). */
  const addressAt = new Map<string, number>()
  const started = Date.now()
  const handedTime = (subnet: string, address: string): number => addressAt.get(`${subnet} ${address}`) ?? started
  let pending: NodeJS.Immediate | undefined
  const write = (): void => {
    if (pending) clearImmediate(pending)
    pending = undefined
    const addresses = [...handedOut].filter(([, set]) => set.size > 0).map(([subnet, set]) => [subnet, [...set]])
    state.setReservations({ pools: [...pools.keys()], addresses: Object.fromEntries(addresses) })
  }
  /**
   * Writes the reservations as they are now, before dockerd gets what it asked for; on failure
   * `undo` takes the change back, and it throws.
   */
  const persist = (undo: () => void): void => {
    try {
      write()
    } catch (err) {
      undo()
      throw err
    }
  }
  /**
   * A release is written just after the answer, several in one write (a file replaced costs ~10 ms
   * of the kernel's time here): until then the file holds one reservation too many, which only
   * keeps an address from being handed out, never hands one out twice.
   */
  const persistSoon = (): void => {
    pending ??= setImmediate(() => {
      try {
        write()
      } catch {} // the next write carries it
    })
  }

  /**
   * Lets go the pools whose cnm network is gone, well after dockerd asked for them (its
   * CreateNetwork follows RequestPool at once): removed with `cnm network rm`, or by dockerd while
   * cnm was down (its ReleasePool lost), such a pool would keep its subnet taken until a restart.
   * Only pools a cnm network was seen to hold (at the start, or at an earlier check).
   */
  const letGoOrphans = (): void => {
    const live = new Set(networkSubnets().map((p) => p.cidr))
    let changed = false
    for (const [id, pool] of pools) {
      if (live.has(pool.subnet.cidr)) seenLive.add(id)
      else if (seenLive.has(id) && Date.now() - (handedAt.get(id) ?? 0) >= ORPHAN_POOL_MS) {
        pools.delete(id)
        handedAt.delete(id)
        seenLive.delete(id)
        handedOut.delete(pool.subnet.cidr)
        changed = true
      }
    }
    if (changed) persistSoon()
  }

  /** How many whole seconds until `since` is `ms` old (0 when it is). */
  const secondsLeft = (since: number, ms: number): number => Math.max(0, Math.ceil((since + ms - Date.now()) / 1000))

  /** What holds a subnet overlapping `subnet`, in words, or undefined. */
  const inUse = (subnet: IPPrefix): string | undefined => {
    letGoOrphans()
    for (const n of controller.networks()) {
      for (const s of subnetsOf(n.inspect())) {
        const p = tryParseCIDR(s.subnet)
        if (p && networksOverlap(p, subnet)) return `${p.cidr} of cnm network ${n.name}`
      }
    }
    const pool = [...pools.values()].find((p) => networksOverlap(p.subnet, subnet))
    if (pool === undefined) return undefined
    const at = handedAt.get(pool.id) ?? 0
    if (seenLive.has(pool.id)) {
      return `pool ${pool.id}, whose cnm network was removed without dockerd (cnm network rm, or docker network rm while cnm was down): let go in ${secondsLeft(at, ORPHAN_POOL_MS)} s`
    }
    return `pool ${pool.id}, handed out to dockerd ${Math.round((Date.now() - at) / 1000)} s ago for a network not made yet`
  }

  const hostSubnets = (): IPPrefix[] =>
    Object.values(networkInterfaces())
      .flat()
      .flatMap((a) => (a?.cidr ? [tryParseCIDR(a.cidr)] : []))
      .filter((p): p is IPPrefix => p !== undefined)

  function autoPool(v6: boolean): IPPrefix {
    if (v6) {
      // A unique local /64 (RFC 4193): fd + 40 random bits + subnet 0.
      const g = randomBytes(5).toString('hex')
      return parseCIDR(`fd${g.slice(0, 2)}:${g.slice(2, 6)}:${g.slice(6, 10)}::/64`)
    }
    const host = hostSubnets()
    for (const c of AUTO_V4) {
      const p = parseCIDR(c)
      if (inUse(p) === undefined && !host.some((h) => networksOverlap(h, p))) return p
    }
    throw new DockerPluginError(
      ERR_DOCKER_NO_ADDRESS,
      'no free IPv4 pool left among 172.17–31.0.0/16 and 192.168.0–240.0/20: give --subnet',
    )
  }

  /**
   * What a pool's subnet's addresses are taken by: endpoints, gateway, auxiliary and handed-out
   * addresses. On a cnm network, an address handed out {@link STALE_ADDRESS_MS} ago or more that no
   * endpoint holds (and that is not an auxiliary address, which dockerd asks for too) is let go
   * first; `holder` says what holds each of the others.
   */
  function taken(pool: Pool): { used: Set<string>; holder(address: string): string } {
    const { subnet } = pool
    const held = new Map<string, string>()
    let onNetwork = false
    for (const n of controller.networks()) {
      const i = n.inspect()
      const mine = subnetsOf(i).find((s) => s.subnet === subnet.cidr)
      if (!mine) continue
      onNetwork = true
      if (pools.has(pool.id)) seenLive.add(pool.id) // a cnm network holds it (see letGoOrphans)
      if (mine.gateway) held.set(mine.gateway, `the gateway of cnm network ${n.name}`)
      for (const ep of i.endpoints) {
        const a = subnet.family === 4 ? ep.ipv4 : ep.ipv6
        if (a) held.set(a, `endpoint ${ep.name} of cnm network ${n.name}`)
      }
    }
    for (const extras of Object.values(state.networks()))
      for (const a of extras.aux?.[subnet.cidr] ?? []) held.set(a, 'an auxiliary address of its network')
    const handed = handedOut.get(subnet.cidr)
    for (const a of [...(handed ?? [])]) {
      if (held.has(a)) continue
      const at = handedTime(subnet.cidr, a)
      if (onNetwork && Date.now() - at >= STALE_ADDRESS_MS) {
        handed?.delete(a)
        addressAt.delete(`${subnet.cidr} ${a}`)
        persistSoon()
        continue
      }
      held.set(
        a,
        onNetwork
          ? `handed out to dockerd, and no endpoint has it (let go in ${secondsLeft(at, STALE_ADDRESS_MS)} s if none takes it)`
          : 'handed out to dockerd',
      )
    }
    return { used: new Set(held.keys()), holder: (a) => held.get(a) ?? 'in use' }
  }

  function hand(subnet: IPPrefix, address: string): string {
    let set = handedOut.get(subnet.cidr)
    if (!set) {
      set = new Set()
      handedOut.set(subnet.cidr, set)
    }
    const added = set
    added.add(address)
    persist(() => added.delete(address))
    addressAt.set(`${subnet.cidr} ${address}`, Date.now())
    return `${address}/${subnet.prefixLength}`
  }

  return {
    requestPool(req) {
      const v6 = req.V6 === true
      let subnet: IPPrefix
      if (req.Pool) {
        const p = tryParseCIDR(req.Pool)
        if (p === undefined || p.family !== (v6 ? 6 : 4)) {
          throw invalidRequest(`pool ${JSON.stringify(req.Pool)} is not an IPv${v6 ? 6 : 4} CIDR`)
        }
        subnet = parseCIDR(p.cidr)
        const clash = inUse(subnet)
        if (clash) throw new DockerPluginError(ERR_DOCKER_ADDRESS_IN_USE, `pool ${subnet.cidr} overlaps ${clash}`)
      } else {
        if (req.SubPool) throw invalidRequest(`sub-pool ${req.SubPool} needs a pool (--subnet)`)
        subnet = autoPool(v6)
      }
      let range = subnet
      if (req.SubPool) {
        const r = tryParseCIDR(req.SubPool)
        if (r === undefined || !containsPrefix(subnet, r)) {
          throw invalidRequest(`ip-range ${JSON.stringify(req.SubPool)} is not within the pool ${subnet.cidr}`)
        }
        range = parseCIDR(r.cidr)
      }
      const id = range === subnet ? subnet.cidr : `${subnet.cidr},${range.cidr}`
      if (!pools.has(id)) {
        pools.set(id, { id, subnet, range })
        handedAt.set(id, Date.now())
        persist(() => pools.delete(id))
      }
      return { PoolID: id, Pool: subnet.cidr, Data: {} }
    },

    releasePool(poolId) {
      const pool = parsePoolId(poolId)
      const had = pools.get(pool.id)
      const addresses = handedOut.get(pool.subnet.cidr)
      if (!had && !addresses) return
      pools.delete(pool.id)
      handedAt.delete(pool.id)
      seenLive.delete(pool.id)
      handedOut.delete(pool.subnet.cidr)
      persistSoon()
    },

    requestAddress(req) {
      const pool = parsePoolId(req.PoolID)
      const { subnet } = pool
      const wanted = req.Address ? tryParseAddress(req.Address) : undefined
      if (req.Address && (wanted === undefined || !containsAddress(subnet, wanted))) {
        throw invalidRequest(`address ${JSON.stringify(req.Address)} is not in pool ${subnet.cidr}`)
      }
      const { first, last } = hostBounds(subnet)
      if (wanted && (wanted.value < first || wanted.value > last)) {
        throw invalidRequest(`address ${wanted.text} is not a host address of pool ${subnet.cidr}`)
      }
      // The range as Docker's IPAM takes it: from its very first address to its last (its network
      // address is a host of the pool when the range is not at the pool's start), within the pool's
      // hosts (bigints: no Math.max).
      let from = pool.range.networkValue
      let to = pool.range.lastValue
      if (from < first) from = first
      if (to > last) to = last
      if (req.Options?.[REQUEST_ADDRESS_TYPE] === GATEWAY_TYPE) {
        // Before the network exists: its gateway is the one asked for, or the range's first address
        // (the pool's first host without a range), as Docker's IPAM gives it.
        return {
          Address: `${(wanted ?? addressFromValue(subnet.family, from)).text}/${subnet.prefixLength}`,
          Data: {},
        }
      }
      const { used, holder } = taken(pool)
      if (wanted) {
        if (used.has(wanted.text)) {
          throw new DockerPluginError(
            ERR_DOCKER_ADDRESS_IN_USE,
            `address ${wanted.text} of pool ${subnet.cidr} is in use: ${holder(wanted.text)}`,
          )
        }
        return { Address: hand(subnet, wanted.text), Data: {} }
      }
      // The lowest free address, as Docker's own IPAM.
      for (let v = from; v <= to; v++) {
        const a = addressFromValue(subnet.family, v).text
        if (!used.has(a)) return { Address: hand(subnet, a), Data: {} }
      }
      throw new DockerPluginError(ERR_DOCKER_NO_ADDRESS, `pool ${pool.id} has no free address left`)
    },

    flush() {
      if (pending) write()
    },

    releaseAddress(poolId, address) {
      const pool = parsePoolId(poolId)
      const a = tryParseAddress(address) ?? tryParseCIDR(address)
      const text = a === undefined ? undefined : 'text' in a ? a.text : a.address
      if (text === undefined) throw invalidRequest(`address ${JSON.stringify(address)} is not an IP address`)
      const set = handedOut.get(pool.subnet.cidr)
      addressAt.delete(`${pool.subnet.cidr} ${text}`)
      if (set?.delete(text)) persistSoon()
    },
  }
}
