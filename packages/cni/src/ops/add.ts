import { openHandle } from '@cnm/netlink'
import { type Attachment, attachment } from '../attachment.js'
import { bindNetns, ensureCniDir } from '../bind.js'
import type { CniContext } from '../context.js'
import type { CniEnv } from '../env.js'
import { CNI_ERROR, CniError, ERR_CNI_ATTACHMENT_EXISTS, ERR_CNI_IFNAME } from '../errors.js'
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

/**
 * The interface name must be free in the namespace, and be the one the driver gives (the first
 * free `ethN`: cnm's drivers create the container's interface under that name, inside the namespace).
 */
async function checkIfname(key: string, ifname: string): Promise<void> {
  const h = await openHandle({ netns: key })
  try {
    const names = new Set((await h.listLinks()).map((l) => l.name))
    if (names.has(ifname)) {
      throw new CniError(
        'EEXIST',
        'conflict',
        CNI_ERROR.CONFLICT,
        `interface ${ifname} already exists in the container's namespace`,
      )
    }
    let i = 0
    while (names.has(`eth${i}`)) i++
    if (ifname !== `eth${i}`) {
      throw new CniError(
        ERR_CNI_IFNAME,
        'unsupported',
        CNI_ERROR.UNSUPPORTED,
        `CNI_IFNAME ${ifname}: cnm names the container's interface eth${i} (its first free ethN); ask for eth${i}`,
      )
    }
  } finally {
    h.close()
  }
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
  const network = await networkFor(ctx.controller, conf)
  if (network.endpoints().some((e) => e.name === att.endpointName)) {
    throw new CniError(
      ERR_CNI_ATTACHMENT_EXISTS,
      'conflict',
      CNI_ERROR.CONFLICT,
      `container ${env.containerId} already has ${env.ifname} on network ${network.name} (DEL it first)`,
    )
  }
  ensureCniDir(ctx.cniDir)
  const unbind = bindNetns(env.netns as string, att.key)
  try {
    await checkIfname(att.key, env.ifname)
    const { endpoint } = await network.createEndpoint(att.endpointName, att.key, options)
    const sb = lazySandbox(att.key)
    try {
      ctx.lent.set(att.key, sb)
      await endpoint.join(sb)
    } catch (err) {
      await endpoint.delete().catch(() => undefined)
      throw err
    } finally {
      sb.release()
    }
    await loopbackUp(att.key)
    const facts = await attachmentFacts(network, endpoint, env.ifname, env.netns as string)
    return buildResult(conf.cniVersion, facts, conf.dns, conf.prevResult)
  } catch (err) {
    ctx.lent.delete(att.key)
    unbind()
    throw err
  }
}
