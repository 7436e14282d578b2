import { CnmError } from '@cnm/driverapi'
import { ipv6Gateway } from '../network-config.js'
import type { NetworkContext } from '../resources.js'
import type { Step } from './step.js'

/** A network's gateway is an address the host (or another network's bridge) already has. */
export const ERR_GATEWAY_IN_USE = 'ERR_GATEWAY_IN_USE'

/** The gateway asked for is already an address of another interface of the host. */
export class GatewayInUseError extends CnmError {
  constructor(gateway: string, owner: string) {
    super(
      ERR_GATEWAY_IN_USE,
      'conflict',
      `gateway ${gateway} is already an address of ${owner} on this host: choose another gateway (--gateway) or subnet`,
    )
  }
}

/** The gateways a new network asks for (an elected IPv4 address is free by construction). */
function wantedGateways(ctx: NetworkContext): string[] {
  const { config, id } = ctx.net
  const out: string[] = []
  if (config.addressIPv4) out.push(config.addressIPv4.address)
  if (config.enableIPv6) out.push(ipv6Gateway(config, id).gateway.text)
  for (const m of config.moreSubnets) out.push(m.gateway.text)
  return out
}

/**
 * Refuses, before anything changes, a gateway that is already an address of another interface of
 * the host (`eth0`'s own address, another network's bridge): the bridge would take it from them.
 * An adopted bridge may of course keep its own. A restore takes what it recorded and is not checked.
 */
export const checkGateway: Step<NetworkContext> = {
  name: 'check-gateway',
  async run(ctx) {
    if (ctx.restoring) return
    const wanted = wantedGateways(ctx)
    if (wanted.length === 0) return
    const { host } = ctx.res
    const own = (await host.findLink(ctx.net.bridgeName))?.index
    const taken = (await host.listAddresses()).find((a) => a.index !== own && wanted.includes(a.address))
    if (!taken) return
    const link = (await host.listLinks()).find((l) => l.index === taken.index)
    throw new GatewayInUseError(taken.address, `interface ${link?.name ?? `#${taken.index}`} (${taken.cidr})`)
  },
  async undo() {},
}
