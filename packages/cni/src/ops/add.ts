import { openHandle } from '@cnm/netlink'
import { type Attachment, attachment } from '../attachment.js'
import { bindNetns, ensureCniDir } from '../bind.js'
import type { CniContext } from '../context.js'
import type { CniEnv } from '../env.js'
import { CNI_ERROR, CniError, ERR_CNI_ATTACHMENT_EXISTS } from '../errors.js'
import { attachmentFacts } from '../facts.js'
import { lazySandbox } from '../lazy-sandbox.js'
import type { CnmNetConf } from '../netconf.js'
import { networkFor } from '../network.js'
import { buildResult, type CniResult } from '../result.js'

/** The endpoint options of an ADD: runtimeConfig's portMappings, ips and mac (CNI_ARGS IP/MAC as the legacy form). */
export function endpointOptions(conf: CnmNetConf, env: CniEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (conf.portBindings.length > 0) out.portBindings = conf.portBindings
  const ip4 = conf.ipv4 ?? (env.args.IP && !env.args.IP.includes(':') ? env.args.IP.split('/')[0] : undefined)
  const ip6 = conf.ipv6 ?? (env.args.IP?.includes(':') ? env.args.IP.split('/')[0] : undefined)
  if (ip4) out.ipv4Address = ip4
  if (ip6) out.ipv6Address = ip6
  const mac = conf.mac ?? env.args.MAC?.toLowerCase()
  if (mac) out.macAddress = mac
  return out
}

/** `lo` up in the container's namespace, as the reference `loopback` plugin does (no second plugin needed). */
async function loopbackUp(key: string): Promise<void> {
  const h = await openHandle({ netns: key })
  try {
    await h.setLinkUp('lo')
  } finally {
    h.close()
  }
}

/** ADD: the attachment's namespace bound, an endpoint born in it and joined; the result. Undone entirely on failure. */
export async function cniAdd(ctx: CniContext, env: CniEnv, conf: CnmNetConf): Promise<CniResult> {
  const att: Attachment = attachment(env.containerId, env.ifname, ctx.cniDir)
  const options = endpointOptions(conf, env)
  // The namespace first: a path that is no network namespace (or the host's) changes nothing, not
  // even the network a first ADD would create.
  ensureCniDir(ctx.cniDir)
  const unbind = bindNetns(env.netns as string, att.key)
  let network: Awaited<ReturnType<typeof networkFor>>
  try {
    network = await networkFor(ctx.controller, conf)
    if (network.endpoints().some((e) => e.name === att.endpointName)) {
      throw new CniError(
        ERR_CNI_ATTACHMENT_EXISTS,
        'conflict',
        CNI_ERROR.CONFLICT,
        `container ${env.containerId} already has ${env.ifname} on network ${network.name} (DEL it first)`,
      )
    }
  } catch (err) {
    unbind()
    throw err
  }
  const caps = ctx.controller.drivers().find((d) => d.name === network.type)?.capabilities
  // The runtime reserves published host ports itself (CNI leaves that to it): cnm holds none.
  if (conf.portBindings.length > 0 && caps?.publishesPorts) options.holdPorts = false
  // CNI_IFNAME exactly: a driver that names interfaces creates it in the namespace under that
  // name; any other driver's interface is born on the host and named as the join moves it in.
  const named = caps?.namesInterfaces === true
  if (named) options.interfaceName = env.ifname
  try {
    const { endpoint } = await network.createEndpoint(att.endpointName, named ? att.key : undefined, options)
    const sb = lazySandbox(att.key)
    try {
      ctx.lent.set(att.key, sb)
      // One container may attach to a network twice (eth0 and net1): each attachment stands alone.
      await endpoint.join(sb, { interfaceName: env.ifname, allowSameNetwork: true })
      await loopbackUp(att.key)
      const facts = await attachmentFacts(network, endpoint, env.ifname, env.netns as string, att.key)
      return buildResult(conf.cniVersion, facts, conf.dns, conf.prevResult)
    } catch (err) {
      await endpoint.delete().catch(() => undefined) // the join, its sandbox record, ports, rules
      throw err
    } finally {
      sb.release()
    }
  } catch (err) {
    ctx.lent.delete(att.key)
    unbind()
    throw err
  }
}
