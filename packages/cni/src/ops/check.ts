import { statSync } from 'node:fs'
import { type Handle, openHandle } from '@cnm/netlink'
import { attachment } from '../attachment.js'
import { checkNetns } from '../bind.js'
import type { CniContext } from '../context.js'
import type { CniEnv } from '../env.js'
import { CNI_ERROR, CniError, ERR_CNI_CHECK, ERR_CNI_CONFIG } from '../errors.js'
import { attachmentFacts } from '../facts.js'
import type { CnmNetConf } from '../netconf.js'
import { existingNetwork } from '../network.js'
import type { AttachmentFacts, CniIP } from '../result.js'

const failed = (message: string, cniCode: number = CNI_ERROR.CHECK_FAILED): CniError =>
  new CniError(ERR_CNI_CHECK, 'not-found', cniCode, message)

/** The container's side, read from the kernel inside the namespace. */
async function checkContainer(
  h: Handle,
  facts: AttachmentFacts,
  ifname: string,
  routed: Set<string>,
): Promise<string | undefined> {
  const link = await h.findLink(ifname)
  if (!link) throw failed(`interface ${ifname} is not in the container's namespace`)
  if (!link.up) throw failed(`interface ${ifname} is down`)
  if (facts.container.mac && link.mac?.toLowerCase() !== facts.container.mac.toLowerCase()) {
    throw failed(`interface ${ifname} has MAC ${link.mac}, not ${facts.container.mac}`)
  }
  const addrs = (await h.listAddresses(ifname)).map((a) => a.cidr)
  const routes = [...(await h.listRoutes(4)), ...(await h.listRoutes(6))]
  for (const ip of [facts.ipv4, facts.ipv6]) {
    if (!ip) continue
    if (!addrs.includes(ip.address))
      throw failed(`interface ${ifname} lacks address ${ip.address} (has ${addrs.join(', ') || 'none'})`)
    if (
      ip.gateway &&
      routed.has(ip.gateway) &&
      !routes.some((r) => isDefault(r.destination) && r.gateway === ip.gateway)
    ) {
      throw failed(`the container has no default route via ${ip.gateway}`)
    }
  }
  return link.kind
}

const isDefault = (dst: string | undefined): boolean =>
  dst === undefined || dst === 'default' || dst === '0.0.0.0/0' || dst === '::/0'

/** The host's side: the veth is there, up, and a port of the network's bridge. */
async function checkHost(facts: AttachmentFacts, device: string | undefined): Promise<void> {
  if (!facts.hostVeth) throw failed('the host end of the container interface is gone')
  if (!device) return
  const h = await openHandle()
  try {
    const veth = await h.getLink(facts.hostVeth.name)
    const bridge = await h.getLink(device)
    if (veth.master !== bridge.index) throw failed(`${veth.name} is not a port of bridge ${bridge.name}`)
    if (!veth.up) throw failed(`${veth.name} is down`)
  } finally {
    h.close()
  }
}

/** The gateways of the default routes the runtime's cached result lists (the container must have them). */
function prevDefaultGateways(conf: CnmNetConf): Set<string> {
  const routes = Array.isArray(conf.prevResult?.routes)
    ? (conf.prevResult.routes as { dst?: string; gw?: string }[])
    : []
  return new Set(routes.filter((r) => isDefault(r.dst) && r.gw).map((r) => r.gw as string))
}

/** prevResult (the runtime's cached result) must hold this attachment's addresses. */
function checkPrevResult(conf: CnmNetConf, facts: AttachmentFacts): void {
  const prev = conf.prevResult
  if (!prev) throw new CniError(ERR_CNI_CONFIG, 'invalid', CNI_ERROR.INVALID_NETWORK_CONFIG, 'CHECK needs prevResult')
  const ips = Array.isArray(prev.ips) ? (prev.ips as CniIP[]).map((i) => i.address) : []
  for (const ip of [facts.ipv4, facts.ipv6]) {
    if (ip && !ips.includes(ip.address)) throw failed(`prevResult does not list ${ip.address}`)
  }
}

/** CHECK: the attachment's interface, addresses and routes are really in the kernel. */
export async function cniCheck(ctx: CniContext, env: CniEnv, conf: CnmNetConf): Promise<void> {
  const att = attachment(env.containerId, env.ifname, ctx.cniDir)
  const network = await existingNetwork(ctx.controller, conf)
  if (!network) throw failed(`network ${conf.network} does not exist`, CNI_ERROR.INVALID_NETWORK_CONFIG)
  const endpoint = network.endpoints().find((e) => e.name === att.endpointName)
  if (!endpoint)
    throw failed(
      `container ${env.containerId} has no ${env.ifname} on network ${network.name}`,
      CNI_ERROR.UNKNOWN_CONTAINER,
    )
  const ino = checkNetns(env.netns as string)
  let bound: number | undefined
  try {
    bound = statSync(att.key).ino
  } catch {}
  if (bound !== ino)
    throw failed(`CNI_NETNS ${env.netns} is not the namespace the attachment was made in`, CNI_ERROR.UNKNOWN_CONTAINER)
  const facts = await attachmentFacts(network, endpoint, env.ifname, env.netns as string, att.key)
  checkPrevResult(conf, facts)
  const h = await openHandle({ netns: att.key })
  let kind: string | undefined
  try {
    kind = await checkContainer(h, facts, env.ifname, prevDefaultGateways(conf))
  } finally {
    h.close()
  }
  // A veth's host end must be up on the network's own bridge (a macvlan has no host end).
  if (kind === 'veth') await checkHost(facts, network.inspect().device)
}
