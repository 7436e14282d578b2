import { InvalidConfigError } from '@cnm/driverapi'
import { randomMac } from '../endpoint-names.js'
import { CNM_LINK_GROUP, networkAlias } from '../marks.js'
import type { NetworkContext } from '../resources.js'
import { ignoreGone, type Step } from './step.js'

/**
 * Creates the bridge (with its own MAC, so it never takes a port's), or adopts an existing bridge
 * of that name: only a bridge, and only when the name was given. A given name that does not exist
 * is created, as Docker's `com.docker.network.bridge.name` is (`allowNonDefaultBridge`, libnetwork's
 * old rule for its default network, is accepted and no longer needed).
 */
export const setupDevice: Step<NetworkContext> = {
  name: 'device',
  async run({ res, net }) {
    const existing = await res.host.findLink(net.bridgeName)
    if (existing) {
      if (existing.kind !== 'bridge') throw new InvalidConfigError(`${net.bridgeName} exists and is not a bridge`)
      if (net.config.bridgeName === undefined) throw new InvalidConfigError(`bridge ${net.bridgeName} already exists`)
      net.createdBridge = false
      net.bridgeIndex = existing.index
      return
    }
    const made = await res.host.createBridge(net.bridgeName, {
      mac: randomMac(),
      alias: networkAlias(res.owner, net.id),
      group: CNM_LINK_GROUP,
      ...(net.config.mtu ? { mtu: net.config.mtu } : {}),
    })
    net.createdBridge = true
    net.bridgeIndex = made.index
  },
  async undo({ res, net }) {
    if (net.createdBridge) await res.host.deleteLink(net.bridgeName).catch(ignoreGone)
    net.createdBridge = false
  },
}

/** Brings the bridge up (last, as libnetwork does). */
export const setupDeviceUp: Step<NetworkContext> = {
  name: 'device up',
  async run({ res, net }) {
    await res.host.setLinkUp(net.bridgeName)
  },
  async undo({ res, net }) {
    if (net.createdBridge) await res.host.setLinkUp(net.bridgeName, false).catch(ignoreGone)
  },
}
