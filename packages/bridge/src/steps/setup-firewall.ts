import type { NetworkRules } from '@cnm/firewall'
import type { NetworkContext } from '../resources.js'
import { bridgeSysctl, notePriorSysctl, restoreBridgeSysctl } from './bridge-sysctls.js'
import type { Step } from './step.js'

/** The firewall's view of a network. */
export function networkRules({ net }: Pick<NetworkContext, 'net'>): NetworkRules {
  return {
    id: net.id,
    bridge: net.bridgeName,
    subnets: [net.subnetV4, net.subnetV6].filter((s): s is string => s !== undefined),
    icc: net.config.enableICC,
    masquerade: net.config.enableIPMasquerade,
    internal: net.config.internal,
  }
}

/** NAT, forwarding, ICC, isolation and internal-network rules, in one firewall transaction. */
export const setupFirewall: Step<NetworkContext> = {
  name: 'firewall',
  async run(ctx) {
    if (!ctx.net.config.enableIPTables) return
    // the firewall turns route_localnet on for an IPv4 network's bridge, and off when it goes
    if (ctx.net.subnetV4 !== undefined) notePriorSysctl(ctx, bridgeSysctl(ctx.net, 'ipv4', 'route_localnet'))
    try {
      await ctx.res.firewall.addNetwork(networkRules(ctx))
    } catch (err) {
      if (!ctx.restoring || (err as { code?: string }).code !== 'EEXIST') throw err
    }
    ctx.net.firewallProgrammed = true
  },
  async undo(ctx) {
    if (ctx.net.firewallProgrammed) {
      await ctx.res.firewall.deleteNetwork({ bridge: ctx.net.bridgeName })
      ctx.net.firewallProgrammed = false
    }
    restoreBridgeSysctl(ctx, bridgeSysctl(ctx.net, 'ipv4', 'route_localnet'))
  },
}
