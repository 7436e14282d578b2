import type { NetworkController } from '@cnm/controller'
import { type IPPrefix, networksOverlap, tryParseCIDR } from '@cnm/ip'
import { CliError } from '../errors.js'
import { ERR_NETWORK_OVERLAPS } from './codes.js'

/** The subnets a bridge network's options ask for: `addressIPv4` (gateway/len) and `fixedCIDRv6`. */
function wanted(options: Record<string, unknown>): IPPrefix[] {
  return [options.addressIPv4, options.fixedCIDRv6]
    .map((v) => (typeof v === 'string' ? tryParseCIDR(v) : undefined))
    .filter((p): p is IPPrefix => p !== undefined)
}

/**
 * Refuses a subnet that overlaps an existing network's, naming that network: ERR_NETWORK_OVERLAPS
 * (conflict, 409). The driver checks again inside the store's transaction (against ids).
 */
export function checkOverlaps(controller: NetworkController, name: string, options: Record<string, unknown>): void {
  const mine = wanted(options)
  if (mine.length === 0) return
  for (const net of controller.networks()) {
    const info = net.inspect()
    for (const theirs of [info.subnet, info.subnetIPv6]) {
      const other = theirs === undefined ? undefined : tryParseCIDR(theirs)
      const hit = other && mine.find((m) => m.family === other.family && networksOverlap(m, other))
      if (hit && other) {
        throw new CliError(
          ERR_NETWORK_OVERLAPS,
          `network ${name}: subnet ${hit.cidr} overlaps network ${info.name} (${other.cidr})`,
          { kind: 'conflict' },
        )
      }
    }
  }
}
