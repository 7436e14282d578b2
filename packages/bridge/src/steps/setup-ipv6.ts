import { hasErrorCode } from '@cnm/driverapi'
import { ERR_IP_OUT_OF_RANGE } from '@cnm/ipallocator'
import { reserveAuxAddresses } from '../aux-addresses.js'
import { checkInside, ipv6Gateway } from '../network-config.js'
import type { NetworkContext } from '../resources.js'
import { bridgeSysctl, restoreBridgeSysctl, setBridgeSysctl } from './bridge-sysctls.js'
import { ignoreGone, type Step } from './step.js'

/**
 * IPv6 on the bridge when `enableIPv6`: the subnet is `fixedCIDRv6`, or a ULA /64 derived from the
 * network id; the bridge takes the gateway given, else the subnet's first host address (no DAD), and
 * is the containers' gateway.
 */
export const setupIPv6: Step<NetworkContext> = {
  name: 'ipv6',
  async run(ctx) {
    const { res, net } = ctx
    if (!net.config.enableIPv6) return
    const { subnet, gateway } = ipv6Gateway(net.config, net.id)
    const gw = gateway.text
    setBridgeSysctl(ctx, bridgeSysctl(net, 'ipv6', 'disable_ipv6'), '0')
    net.subnetV6 = subnet.cidr
    net.gatewayV6 = gw
    net.bridgeCidrV6 = `${gw}/${subnet.prefixLength}`
    if (!(await res.host.listAddresses(net.bridgeName)).some((a) => a.cidr === net.bridgeCidrV6)) {
      await res.host.addAddress(net.bridgeName, net.bridgeCidrV6)
      net.addedV6 = true
    }
    const range = net.config.ipRangeV6
    if (range) checkInside(range, subnet, 'ipRangeV6')
    res.allocator.registerSubnet(subnet.cidr, range?.cidr ?? subnet.cidr)
    net.pools.push(subnet.cidr)
    try {
      res.allocator.requestIP(subnet.cidr, gw)
    } catch (err) {
      if (!hasErrorCode(err, ERR_IP_OUT_OF_RANGE)) throw err
    }
    reserveAuxAddresses(res.allocator, subnet, gw, net.config.auxAddresses, 6)
  },
  async undo(ctx) {
    const { res, net } = ctx
    if (net.subnetV6 && net.pools.includes(net.subnetV6)) {
      res.allocator.unregisterNetwork(net.subnetV6)
      net.pools = net.pools.filter((x) => x !== net.subnetV6)
    }
    // IPv6 addresses go when a link goes down: one already gone is fine.
    if (net.addedV6 && net.bridgeCidrV6)
      await res.host.deleteAddress(net.bridgeName, net.bridgeCidrV6).catch(ignoreGone)
    net.addedV6 = false
    restoreBridgeSysctl(ctx, bridgeSysctl(net, 'ipv6', 'disable_ipv6'))
  },
}
