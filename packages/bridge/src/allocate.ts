import { hasErrorCode, type UndoStack } from '@cnm/driverapi'
import type { IPFamily } from '@cnm/ip'
import { ERR_NO_AVAILABLE_IPS, type IPAllocator, NoAvailableIPsError } from '@cnm/ipallocator'
import type { NetworkState } from './resources.js'
import { subnetForPreferred, subnetsOf } from './subnets.js'

/**
 * An endpoint's address of one family: the preferred one (`ipv4Address`/`ipv6Address`, Docker's
 * `--ip`) in whichever subnet of the network holds it (one in none is refused, naming the network),
 * else the allocator's next free address of the first subnet with room (its `--ip-range`; gateways
 * and aux addresses are never handed out). Released by `undo` if the endpoint is not made.
 */
export function allocateAddress(
  allocator: IPAllocator,
  net: NetworkState,
  family: IPFamily,
  preferred: string | undefined,
  undo: UndoStack,
): string {
  const take = (pool: string, ip?: string): string => {
    const got = allocator.requestIP(pool, ip)
    undo.push(() => allocator.releaseIP(pool, got))
    return got
  }
  if (preferred !== undefined) return take(subnetForPreferred(net, preferred, family).subnet, preferred)
  const subnets = subnetsOf(net, family)
  for (const s of subnets) {
    try {
      return take(s.subnet)
    } catch (err) {
      if (!hasErrorCode(err, ERR_NO_AVAILABLE_IPS) || subnets.length === 1) throw err
    }
  }
  throw new NoAvailableIPsError(
    `no available IPv${family} address on network ${net.id}: every subnet is full (${subnets.map((s) => s.subnet).join(', ')})`,
  )
}
