import { hasErrorCode, InvalidConfigError } from '@cnm/driverapi'
import { type IPPrefix, parseAddress, parseCIDR, prefixOf } from '@cnm/ip'
import { ERR_IP_OUT_OF_RANGE, nthHost } from '@cnm/ipallocator'
import { electSubnet, parseNameservers } from '../address-election.js'
import { reserveAuxAddresses } from '../aux-addresses.js'
import { checkInside } from '../network-config.js'
import type { NetworkContext } from '../resources.js'
import { ignoreGone, type Step } from './step.js'

async function chooseBridgeAddress({ res, net, otherSubnets }: NetworkContext): Promise<IPPrefix> {
  // The gateways of the network's later subnets are on the bridge too: not the first subnet's.
  const more = new Set(net.config.moreSubnets.map((m) => `${m.gateway.text}/${m.subnet.prefixLength}`))
  const present = (await res.host.listAddresses(net.bridgeName)).filter((a) => a.family === 4 && !more.has(a.cidr))
  const wanted = net.config.addressIPv4
  if (wanted) {
    const text = `${wanted.address}/${wanted.prefixLength}`
    const wrong = present.find((a) => a.cidr !== text)
    if (wrong) throw new InvalidConfigError(`bridge ${net.bridgeName} has address ${wrong.cidr}, not ${text}`)
    return wanted
  }
  // An adopted bridge keeps its address (the kernel's, read as text: an edge).
  if (present[0]) return parseCIDR(present[0].cidr)
  const routes = (await res.host.listRoutes(4)).map((r) => r.destination).filter((d) => d !== 'default')
  const subnet = electSubnet(res.config.defaultAddressPools, {
    routes,
    nameservers: parseNameservers(res.resolvConf()),
    taken: otherSubnets,
  })
  const elected = parseCIDR(subnet)
  return prefixOf(parseAddress(nthHost(elected, 1)), elected.prefixLength)
}

/** Gives the bridge its IPv4 address (given or elected), and the network its address pool. */
export const setupIPv4: Step<NetworkContext> = {
  name: 'ipv4',
  async run(ctx) {
    const { res, net } = ctx
    if (!net.config.enableIPv4) return // an IPv6-only network
    const p = await chooseBridgeAddress(ctx)
    const cidr = `${p.address}/${p.prefixLength}`
    net.bridgeCidrV4 = cidr
    net.gatewayV4 = p.address
    net.subnetV4 = p.cidr
    if (net.config.fixedCIDR) checkInside(net.config.fixedCIDR, p, 'fixedCIDR')
    if (!(await res.host.listAddresses(net.bridgeName)).some((a) => a.cidr === cidr)) {
      await res.host.addAddress(net.bridgeName, cidr)
      net.addedV4 = true
    }
    res.allocator.registerSubnet(p.cidr, net.config.fixedCIDR?.cidr ?? p.cidr)
    net.pools.push(p.cidr)
    try {
      res.allocator.requestIP(p.cidr, p.address) // the gateway is never handed to an endpoint
    } catch (err) {
      if (!hasErrorCode(err, ERR_IP_OUT_OF_RANGE)) throw err
    }
    reserveAuxAddresses(res.allocator, p, p.address, net.config.auxAddresses, 4)
  },
  async undo({ res, net }) {
    if (net.subnetV4 && net.pools.includes(net.subnetV4)) {
      res.allocator.unregisterNetwork(net.subnetV4)
      net.pools = net.pools.filter((x) => x !== net.subnetV4)
    }
    if (net.addedV4 && net.bridgeCidrV4)
      await res.host.deleteAddress(net.bridgeName, net.bridgeCidrV4).catch(ignoreGone)
    net.addedV4 = false
  },
}
