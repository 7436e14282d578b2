import {
  formatAddress,
  hostBounds,
  InvalidAddressError,
  type IPAddress,
  type IPPrefix,
  parseAddress,
  parseCIDR,
} from '@cnm/ip'
import { allocatedRuns, checkStateShape, type IPAllocatorState, type PoolState, parseRun } from './allocator-state.js'
import {
  BadSubnetError,
  IPAlreadyAllocatedError,
  IPOutOfRangeError,
  NetworkAlreadyRegisteredError,
  NoAvailableIPsError,
} from './errors.js'
import { createPool, type Pool } from './pool.js'

interface PoolEntry {
  readonly network: IPPrefix
  readonly subnet: IPPrefix | undefined
  readonly pool: Pool
}

const parsedNetworks = new Map<string, IPPrefix>()

/** parseCIDR with a small cache: the same network text arrives on every request. */
function parseNetwork(text: string): IPPrefix {
  let parsed = parsedNetworks.get(text)
  if (parsed === undefined) {
    parsed = parseCIDR(text)
    if (parsedNetworks.size >= 256) parsedNetworks.clear()
    parsedNetworks.set(text, parsed)
  }
  return parsed
}

/** A pool for the network, limited to the subnet's host range when one is given. */
function createEntry(network: IPPrefix, subnet: IPPrefix | undefined): PoolEntry {
  let range = hostBounds(network)
  if (subnet !== undefined) {
    const inner = hostBounds(subnet)
    if (subnet.family !== network.family || inner.first < range.first || inner.last > range.last) {
      throw new BadSubnetError(
        `Register subnet ${subnet.cidr} on ${network.cidr} failed: network does not contain specified subnet`,
      )
    }
    range = inner
  }
  return { network, subnet, pool: createPool(network.family, range.first, range.last) }
}

/** Parses an address and checks it is of the network's family. */
function parseFor(entry: PoolEntry | IPPrefix, ip: string, verb: string): IPAddress {
  const network = 'pool' in entry ? entry.network : entry
  const address = parseAddress(ip)
  if (address.family !== network.family) {
    throw new InvalidAddressError(
      `${verb} ${ip} on ${network.cidr} failed: invalid IP address: ${ip} is IPv${address.family}, the network is IPv${network.family}`,
    )
  }
  return address
}

function rangeText(pool: Pool): string {
  return `${formatAddress(pool.family, pool.first)}-${formatAddress(pool.family, pool.last)}`
}

/**
 * IPv4 and IPv6 address pools, one per network (keyed by the canonical network, so
 * `192.168.0.1/24` and `192.168.0.0/24` are the same pool). Synchronous; libnetwork's seed
 * semantics: round-robin after the last address handed out, wrapping.
 */
export class IPAllocator {
  readonly #pools = new Map<string, PoolEntry>()

  /**
   * Limits the network's pool to the host range of `subnet` (its addresses but its first and
   * last). Must come before the first request on the network. Throws `ERR_INVALID_CIDR`,
   * `ERR_NETWORK_ALREADY_REGISTERED`, `ERR_BAD_SUBNET`.
   */
  registerSubnet(network: string, subnet: string): void {
    const net = parseNetwork(network)
    const sub = parseCIDR(subnet)
    if (this.#pools.has(net.cidr)) {
      throw new NetworkAlreadyRegisteredError(
        `Register subnet ${sub.cidr} on ${net.cidr} failed: network already registered`,
      )
    }
    this.#pools.set(net.cidr, createEntry(net, sub))
  }

  /**
   * Hands out the next free address of the network after the last one handed out (wrapping), or
   * reserves `ip` when given (which does not move that cursor). Returns the plain address in
   * canonical form. Throws `ERR_INVALID_CIDR`, `ERR_INVALID_ADDRESS`, `ERR_NO_AVAILABLE_IPS`,
   * `ERR_IP_ALREADY_ALLOCATED`, `ERR_IP_OUT_OF_RANGE`.
   */
  requestIP(network: string, ip?: string): string {
    const net = parseNetwork(network)
    const address = ip === undefined ? undefined : parseFor(net, ip, 'Request for')
    const existing = this.#pools.get(net.cidr)
    const entry = existing ?? createEntry(net, undefined)
    const result = address === undefined ? next(entry) : take(entry, address, ip as string)
    if (existing === undefined) this.#pools.set(net.cidr, entry)
    return result
  }

  /** Frees an address. Unknown networks and addresses are a no-op; malformed text throws. */
  releaseIP(network: string, ip: string): void {
    const net = parseNetwork(network)
    if (typeof ip === 'string' && this.#pools.get(net.cidr)?.pool.releaseText(ip) === true) return
    parseFor(net, ip, 'Release of') // not held: throw for bad text, otherwise nothing to do
  }

  /** Forgets a network's pool and everything allocated in it. Unknown networks are a no-op. */
  unregisterNetwork(network: string): void {
    this.#pools.delete(parseNetwork(network).cidr)
  }

  /** The whole state, for `IPAllocator.fromJSON` after a restart. `JSON.stringify` calls this. */
  toJSON(): IPAllocatorState {
    const pools: PoolState[] = []
    for (const { network, subnet, pool } of this.#pools.values()) {
      const cursor = pool.cursor
      pools.push({
        network: network.cidr,
        ...(subnet === undefined ? {} : { subnet: subnet.cidr }),
        ...(cursor === undefined ? {} : { last: formatAddress(pool.family, cursor) }),
        allocated: allocatedRuns(pool),
      })
    }
    return { version: 1, pools }
  }

  /**
   * An allocator holding exactly the addresses, sub-ranges and cursors of a saved state. Throws
   * `ERR_INVALID_STATE` for a malformed state, and the usual codes for bad networks or addresses.
   */
  static fromJSON(state: IPAllocatorState): IPAllocator {
    checkStateShape(state)
    const allocator = new IPAllocator()
    for (const pool of state.pools) allocator.#restore(pool)
    return allocator
  }

  #restore(state: PoolState): void {
    const network = parseCIDR(state.network)
    if (this.#pools.has(network.cidr)) {
      throw new NetworkAlreadyRegisteredError(`Restore of ${network.cidr} failed: network already registered`)
    }
    const entry = createEntry(network, state.subnet === undefined ? undefined : parseCIDR(state.subnet))
    const { pool } = entry
    for (const text of state.allocated) {
      const [first, last] = parseRun(text, network.family, network.cidr)
      if (first < pool.first || last > pool.last) {
        throw new IPOutOfRangeError(
          `Restore of ${text} on ${network.cidr} failed: requested ip is out of range ${rangeText(pool)}`,
        )
      }
      if (!pool.takeRun(first, last)) {
        throw new IPAlreadyAllocatedError(`Restore of ${text} on ${network.cidr} failed: ip already allocated`)
      }
    }
    if (state.last !== undefined) {
      const { value } = parseFor(entry, state.last, 'Restore of')
      if (value < pool.first || value > pool.last) {
        throw new IPOutOfRangeError(
          `Restore of ${state.last} on ${network.cidr} failed: requested ip is out of range ${rangeText(pool)}`,
        )
      }
      pool.cursor = value
    }
    this.#pools.set(network.cidr, entry)
  }
}

function next(entry: PoolEntry): string {
  const ip = entry.pool.next()
  if (ip === undefined) {
    throw new NoAvailableIPsError(
      `Request for an address on ${entry.network.cidr} failed: no available ip addresses on network`,
    )
  }
  return ip
}

function take(entry: PoolEntry, address: IPAddress, ip: string): string {
  const { pool, network } = entry
  if (address.value < pool.first || address.value > pool.last) {
    throw new IPOutOfRangeError(
      `Request for ${ip} on ${network.cidr} failed: requested ip is out of range ${rangeText(pool)}`,
    )
  }
  if (!pool.take(address.value)) {
    throw new IPAlreadyAllocatedError(`Request for ${ip} on ${network.cidr} failed: ip already allocated`)
  }
  return formatAddress(address.family, address.value)
}
