import { hasErrorCode } from '@cnm/driverapi'
import { ERR_IP_OUT_OF_RANGE } from '@cnm/ipallocator'
import { reserveAuxAddresses } from '../aux-addresses.js'
import { checkInside } from '../network-config.js'
import type { NetworkContext, SubnetState } from '../resources.js'
import { ignoreGone, type Step } from './step.js'

/**
 * The second and later subnets of each family (Docker's repeated `--subnet`): the bridge takes each
 * one's gateway address beside the first subnet's (the kernel holds them all), and each becomes an
 * address pool of its own (its `--ip-range`, its gateway and aux addresses never handed out). Runs
 * after the IPv4 and IPv6 steps (IPv6 is enabled on the bridge by then). A restore takes an address
 * the bridge still has, and puts back one that is gone.
 */
export const setupMoreSubnets: Step<NetworkContext> = {
  name: 'more subnets',
  async run({ res, net }) {
    if (net.config.moreSubnets.length === 0) return
    const present = new Set((await res.host.listAddresses(net.bridgeName)).map((a) => a.cidr))
    for (const m of net.config.moreSubnets) {
      const s: SubnetState = {
        family: m.subnet.family,
        subnet: m.subnet.cidr,
        gateway: m.gateway.text,
        bridgeCidr: `${m.gateway.text}/${m.subnet.prefixLength}`,
        added: false,
      }
      if (m.ipRange) checkInside(m.ipRange, m.subnet, 'ip range')
      net.moreSubnets.push(s)
      if (!present.has(s.bridgeCidr)) {
        await res.host.addAddress(net.bridgeName, s.bridgeCidr)
        s.added = true
      }
      res.allocator.registerSubnet(s.subnet, m.ipRange?.cidr ?? s.subnet)
      net.pools.push(s.subnet)
      try {
        res.allocator.requestIP(s.subnet, s.gateway) // never handed to an endpoint
      } catch (err) {
        if (!hasErrorCode(err, ERR_IP_OUT_OF_RANGE)) throw err
      }
      reserveAuxAddresses(res.allocator, m.subnet, s.gateway, m.auxAddresses, s.family)
    }
  },
  async undo({ res, net }) {
    const errors: unknown[] = []
    for (const s of [...net.moreSubnets].reverse()) {
      if (net.pools.includes(s.subnet)) {
        res.allocator.unregisterNetwork(s.subnet)
        net.pools = net.pools.filter((x) => x !== s.subnet)
      }
      if (s.added) {
        await res.host
          .deleteAddress(net.bridgeName, s.bridgeCidr)
          .catch(ignoreGone)
          .catch((err: unknown) => {
            errors.push(err)
          })
      }
    }
    net.moreSubnets = []
    if (errors.length > 0) throw errors[0]
  },
}
