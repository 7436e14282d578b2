import { attachment } from '../attachment.js'
import { unbindNetns } from '../bind.js'
import type { CniContext } from '../context.js'
import type { CniEnv } from '../env.js'
import type { CnmNetConf } from '../netconf.js'
import { existingNetwork } from '../network.js'

/**
 * Removes one attachment's endpoint (its interface, addresses, published ports, rules and record);
 * with the container's last attachment its sandbox record goes (the controller drops it at its last
 * leave) and so does the namespace's bind. Nothing there is success: DEL is idempotent.
 */
export async function removeAttachment(
  ctx: CniContext,
  endpointName: string,
  key: string,
  networkName: string,
): Promise<void> {
  await ctx.controller.refresh()
  const network = ctx.controller.networkByName(networkName)
  const endpoint = network?.endpoints().find((e) => e.name === endpointName)
  try {
    await endpoint?.delete()
  } finally {
    ctx.lent.get(key)?.release()
    ctx.lent.delete(key)
    unbindUnused(ctx, key)
  }
}

/** The container's bind goes once no sandbox record (no attachment of any network) uses it. */
export function unbindUnused(ctx: CniContext, key: string): void {
  if (key && !ctx.controller.sandboxByRef(key)) unbindNetns(key)
}

/** DEL: succeeds when the namespace, the container or the network is already gone. */
export async function cniDel(ctx: CniContext, env: CniEnv, conf: CnmNetConf): Promise<void> {
  const att = attachment(env.containerId, env.ifname, ctx.cniDir)
  const network = await existingNetwork(ctx.controller, conf)
  if (!network) {
    unbindUnused(ctx, att.key)
    return
  }
  await removeAttachment(ctx, att.endpointName, att.key, network.name)
}
