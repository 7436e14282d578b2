import { type Interface, withUndo } from '@cnm/driverapi'
import { type Handle, parsePrefixedAddress } from '@cnm/netlink'
import { announceAddresses } from './announce.js'

/** Where an interface came from, so that removing it can undo exactly that. */
export type InterfaceOrigin = 'host' | 'sandbox'

/**
 * Moves (if needed), renames and configures `i` inside the sandbox, undoing every step in reverse
 * if one fails, so a failure leaves the interface where and as it was (the original error is
 * thrown; failures of the undo are attached to it as `undoErrors`).
 */
export async function addInterfaceSteps(
  sandbox: Handle,
  host: Handle,
  key: string,
  i: Interface,
): Promise<InterfaceOrigin> {
  const inside = await sandbox.findLink(i.srcName)
  const origin: InterfaceOrigin = inside ? 'sandbox' : 'host'
  return withUndo(async (undo) => {
    // The host end of a veth (the peer of the interface moved in): its bridge port must forward
    // before the announcement below is sent, or the bridge drops it.
    let hostEnd: number | undefined
    if (!inside) {
      hostEnd = (await host.getLink(i.srcName)).linkIndex // ENODEV, named, when it is nowhere
      await host.setLinkUp(i.srcName, false)
      await host.moveLink(i.srcName, key)
      undo.push(() => sandbox.moveLink(i.srcName, host.nsPath))
    }
    if (i.srcName !== i.dstName) {
      await sandbox.setLinkUp(i.srcName, false)
      await sandbox.renameLink(i.srcName, i.dstName)
      undo.push(() => sandbox.renameLink(i.dstName, i.srcName))
    }
    if (i.macAddress !== undefined) await sandbox.setMac(i.dstName, i.macAddress)
    if (i.mtu !== undefined) await sandbox.setMtu(i.dstName, i.mtu)
    // An interface a driver made inside may already hold some of its addresses.
    const present = inside ? new Set((await sandbox.listAddresses(i.dstName)).map((a) => a.cidr)) : new Set<string>()
    for (const cidr of [i.address, i.addressIPv6]) {
      if (cidr === undefined) continue
      const p = parsePrefixedAddress(cidr)
      if (present.has(`${p.address}/${p.prefixLength}`)) continue
      await sandbox.addAddress(i.dstName, cidr)
      undo.push(() => sandbox.deleteAddress(i.dstName, cidr))
    }
    await sandbox.setLinkUp(i.dstName)
    undo.push(() => sandbox.setLinkUp(i.dstName, false))
    const peer = hostEnd
    await announceAddresses(sandbox, i.dstName, i, peer === undefined ? undefined : () => portForwards(host, peer))
    return origin
  })
}

/** BR_STATE_FORWARDING of <linux/if_bridge.h>. */
const BR_STATE_FORWARDING = 3

/** Whether the link at `index` in the host namespace forwards: a bridge port in the forwarding state, or no bridge port (gone, or not on a bridge). */
async function portForwards(host: Handle, index: number): Promise<boolean> {
  const link = await host.getLink(index).catch(() => undefined)
  return link?.bridgePortState === undefined || link.bridgePortState === BR_STATE_FORWARDING
}
