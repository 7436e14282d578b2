import { hasErrorCode } from '@cnm/driverapi'
import type { NetworkRules } from '@cnm/firewall'
import type { NetworkContext } from '../resources.js'
import { allSubnets } from '../subnets.js'
import { bridgeSysctl, restoreBridgeSysctl, setBridgeSysctl } from './bridge-sysctls.js'
import type { Step } from './step.js'

/** The firewall's view of a network. */
export function networkRules({ net }: Pick<NetworkContext, 'net'>): NetworkRules {
  return {
    id: net.id,
    bridge: net.bridgeName,
    subnets: allSubnets(net),
    icc: net.config.enableICC,
    masquerade: net.config.enableIPMasquerade,
    internal: net.config.internal,
  }
}

/** `net.ipv4.conf.<bridge>.route_localnet`: lets `127.0.0.1` → a published port be routed to the bridge. */
const routeLocalnet = (ctx: NetworkContext): string => bridgeSysctl(ctx.net, 'ipv4', 'route_localnet')

/**
 * NAT, forwarding, ICC, isolation and internal-network rules, in one firewall transaction; and,
 * for an IPv4 network whose firewall programs the kernel, `route_localnet=1` on the bridge so
 * `127.0.0.1` reaches published ports (libnetwork's loopback routing). The bridge owns that knob,
 * the firewall writes rules only (among them the drop that keeps containers from the host's
 * loopback services, CVE-2020-8558): set before the rules, put back (an adopted bridge's own
 * value) after them.
 */
export const setupFirewall: Step<NetworkContext> = {
  name: 'firewall',
  async run(ctx) {
    if (!ctx.net.config.enableIPTables) return
    if (ctx.net.subnetV4 !== undefined && ctx.res.firewall.backend !== 'none') {
      setBridgeSysctl(ctx, routeLocalnet(ctx), '1')
    }
    try {
      if (ctx.restoring) {
        // Whatever is left of the rules (a table or chain flushed, a rule or map element deleted
        // behind cnm's back) is looked at in the kernel, and what is missing put back.
        const damage = await ctx.res.firewall.repair({ networks: [networkRules(ctx)] })
        ctx.rulesRepaired = damage.skeleton.length > 0 || damage.networks.length > 0
      } else await ctx.res.firewall.addNetwork(networkRules(ctx))
    } catch (err) {
      if (!ctx.restoring || !hasErrorCode(err, 'EEXIST')) throw err
    }
    ctx.net.firewallProgrammed = true
  },
  async undo(ctx) {
    if (ctx.net.firewallProgrammed) {
      await ctx.res.firewall.deleteNetwork({ bridge: ctx.net.bridgeName })
      ctx.net.firewallProgrammed = false
    }
    restoreBridgeSysctl(ctx, routeLocalnet(ctx))
  },
}
