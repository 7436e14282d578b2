import { containsAddress, type IPFamily, parseCIDR, tryParseAddress } from '@cnm/ip'
import { IPOutOfRangeError } from '@cnm/ipallocator'
import type { NetworkState } from './resources.js'

/** One subnet of a network as the driver holds it: the allocator's pool, its gateway and length. */
export interface HeldSubnet {
  family: IPFamily
  /** The subnet, also the allocator's pool key (`10.2.0.0/24`). */
  subnet: string
  gateway: string | undefined
  prefixLength: number
}

/**
 * A network's subnets of one family, in the order endpoints are served from: the first (elected,
 * adopted or given), then the later ones given (Docker's repeated `--subnet`).
 */
export function subnetsOf(net: NetworkState, family: IPFamily): HeldSubnet[] {
  const out: HeldSubnet[] = []
  const [first, gateway] = family === 4 ? [net.subnetV4, net.gatewayV4] : [net.subnetV6, net.gatewayV6]
  if (first) out.push({ family, subnet: first, gateway, prefixLength: parseCIDR(first).prefixLength })
  for (const m of net.moreSubnets) {
    if (m.family === family) {
      out.push({ family, subnet: m.subnet, gateway: m.gateway, prefixLength: parseCIDR(m.subnet).prefixLength })
    }
  }
  return out
}

/** Every subnet of a network, IPv4 first. */
export function allSubnets(net: NetworkState): string[] {
  return [...subnetsOf(net, 4), ...subnetsOf(net, 6)].map((s) => s.subnet)
}

/** The subnet of the network that holds `ip` (a plain address), if any. */
export function subnetHolding(net: NetworkState, ip: string | undefined): HeldSubnet | undefined {
  const address = ip === undefined ? undefined : tryParseAddress(ip)
  if (!address) return undefined
  return subnetsOf(net, address.family).find((s) => containsAddress(s.subnet, address))
}

/**
 * The subnet a preferred address (`ipv4Address`, Docker's `--ip`) lies in; one outside every subnet
 * of the network is refused (`ERR_IP_OUT_OF_RANGE`, kind invalid), naming the network and its subnets.
 */
export function subnetForPreferred(net: NetworkState, ip: string, family: IPFamily): HeldSubnet {
  const held = subnetHolding(net, ip)
  if (held) return held
  const all = subnetsOf(net, family).map((s) => s.subnet)
  throw new IPOutOfRangeError(
    `requested ip ${ip} is in no IPv${family} subnet of network ${net.id} (${all.join(', ') || 'none'})`,
  )
}
