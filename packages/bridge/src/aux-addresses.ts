import { hasErrorCode, InvalidConfigError } from '@cnm/driverapi'
import { containsAddress, type IPAddress, type IPFamily, type IPPrefix } from '@cnm/ip'
import { ERR_IP_ALREADY_ALLOCATED, ERR_IP_OUT_OF_RANGE, type IPAllocator } from '@cnm/ipallocator'

/** Docker's `--aux-address name=ip`: addresses of the subnet reserved for other hosts, never handed out. */
export type AuxAddresses = Readonly<Record<string, IPAddress>>

/** The aux addresses of one family. */
function ofFamily(aux: AuxAddresses, family: IPFamily): [string, IPAddress][] {
  return Object.entries(aux).filter(([, ip]) => ip.family === family)
}

/** The aux addresses as the option's text (`{ router: '10.1.0.2' }`), for records and inspection. */
export function auxAddressesText(aux: AuxAddresses): Record<string, string> {
  return Object.fromEntries(Object.entries(aux).map(([name, ip]) => [name, ip.text]))
}

/**
 * Reserves a family's aux addresses in the network's pool (so no endpoint gets them): each must lie
 * in the subnet and not be its gateway. One outside the allocation range (`fixedCIDR`) is never
 * handed out anyway. Released with the pool.
 */
export function reserveAuxAddresses(
  allocator: IPAllocator,
  net: IPPrefix,
  gateway: string,
  aux: AuxAddresses,
  family: IPFamily,
): void {
  for (const [name, ip] of ofFamily(aux, family)) {
    if (!containsAddress(net, ip)) {
      throw new InvalidConfigError(`aux address ${name}=${ip.text} is not within the subnet ${net.cidr}`)
    }
    if (ip.text === gateway) throw new InvalidConfigError(`aux address ${name}=${ip.text} is the network's gateway`)
    try {
      allocator.requestIP(net.cidr, ip.text)
    } catch (err) {
      if (hasErrorCode(err, ERR_IP_OUT_OF_RANGE)) continue
      if (hasErrorCode(err, ERR_IP_ALREADY_ALLOCATED)) continue // a restore: reserved already
      throw err
    }
  }
}
