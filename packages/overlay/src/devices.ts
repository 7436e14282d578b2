import { hasErrorCode, runAll, withUndo } from '@cnm/driverapi'
import type { NetworkRules } from '@cnm/firewall'
import { createVxlan, getLinkDetails } from '@cnm/netlink'
import { NoUnderlayError } from './errors.js'
import { networkAlias, OVERLAY_LINK_GROUP } from './marks.js'
import { bridgeName, vxlanName } from './names.js'
import { forgetPeers, watchPeers } from './peers.js'
import type { Devices, DriverResources, NetworkState, Underlay } from './state.js'

/** The VXLAN overhead on an IPv4 underlay: outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14). */
export const VXLAN_OVERHEAD_IPV4 = 50
/** On an IPv6 underlay the outer header is 40 bytes. */
export const VXLAN_OVERHEAD_IPV6 = 70

/** The device holding the advertised address, with its MTU. */
export async function findUnderlay(res: DriverResources): Promise<Underlay> {
  const vtep = res.cluster.advertise
  const address = (await res.host.listAddresses()).find((a) => a.address === vtep)
  if (!address) throw new NoUnderlayError(vtep)
  const link = await res.host.getLink(address.index)
  return { index: link.index, name: link.name, mtu: link.mtu }
}

function rules(net: NetworkState, bridge: string): NetworkRules {
  return {
    id: net.id,
    bridge,
    subnets: [net.config.ipv4, net.config.ipv6].flatMap((s) => (s ? [s.subnet.cidr] : [])),
    icc: true,
    masquerade: !net.config.internal,
    internal: net.config.internal,
  }
}

const ignoreGone = (err: unknown): void => {
  if (!hasErrorCode(err, 'ENODEV')) throw err
}

/**
 * The bridge takes no IPv6 router advertisements (`accept_ra=0`, as the bridge driver's and Docker's
 * bridges): the kernel's default takes them on a host that does not forward IPv6, so a container
 * with CAP_NET_RAW could make itself the host's IPv6 router (CVE-2020-13401). A kernel without IPv6
 * has no such sysctl.
 */
function refuseRouterAdvertisements(res: DriverResources, bridge: string): void {
  const key = `net/ipv6/conf/${bridge}/accept_ra`
  try {
    if (res.host.readSysctl(key) !== '0') res.host.writeSysctl(key, '0')
  } catch (err) {
    if (!hasErrorCode(err, 'ENOENT')) throw err
  }
}

/**
 * Makes the network's devices on this host, for its first endpoint here: a bridge holding the
 * gateway, a VXLAN device (the network's VNI, UDP 4789, learning off, ARP proxy on, local = the
 * advertised address, on its underlay device) enslaved to it, both with the MTU lowered by the VXLAN
 * overhead; the firewall's rules for the bridge (isolation from other networks, NAT unless
 * internal); then the other hosts' endpoints, programmed from the cluster and followed. Undone in
 * reverse when a step fails.
 */
export async function setupDevices(res: DriverResources, net: NetworkState): Promise<Devices> {
  const underlay = await findUnderlay(res)
  const overhead = res.cluster.advertise.includes(':') ? VXLAN_OVERHEAD_IPV6 : VXLAN_OVERHEAD_IPV4
  const mtu = net.config.mtu ?? underlay.mtu - overhead
  const bridge = bridgeName(net.id)
  const vxlan = vxlanName(net.id)
  const alias = networkAlias(res.owner, net.id)
  return withUndo(async (undo) => {
    undo.push(() => res.host.deleteLink(bridge).catch(ignoreGone))
    await res.host.createBridge(bridge, { mtu, alias, group: OVERLAY_LINK_GROUP })
    refuseRouterAdvertisements(res, bridge)
    for (const s of [net.config.ipv4, net.config.ipv6]) {
      if (s) await res.host.addAddress(bridge, `${s.gateway.text}/${s.subnet.prefixLength}`)
    }
    undo.push(() => res.host.deleteLink(vxlan).catch(ignoreGone))
    const vx = await createVxlan(res.host, vxlan, {
      vni: net.vni,
      local: res.cluster.advertise,
      parent: underlay.index,
      learning: false,
      proxy: true,
      mtu,
      alias,
      group: OVERLAY_LINK_GROUP,
    })
    await res.host.setMaster(vxlan, bridge)
    await res.host.setLinkUp(vxlan)
    await res.host.setLinkUp(bridge)
    undo.push(() => res.firewall.deleteNetwork({ bridge }))
    await res.firewall.addNetwork(rules(net, bridge))
    const devices: Devices = { bridge, vxlan, vxlanIndex: vx.index, mtu, firewall: true, stopWatch: undefined }
    net.devices = devices
    undo.push(() => {
      net.devices = undefined
      forgetPeers(res, net)
    })
    devices.stopWatch = await watchPeers(res, net)
    return devices
  })
}

/**
 * Takes back the devices a previous process made (found by name and checked by their mark and VNI),
 * the firewall's rules and the peers; rebuilds them when something is missing.
 */
export async function adoptDevices(res: DriverResources, net: NetworkState): Promise<'restored' | 'rebuilt'> {
  const bridge = bridgeName(net.id)
  const vxlan = vxlanName(net.id)
  const alias = networkAlias(res.owner, net.id)
  const br = await res.host.findLink(bridge)
  const vx = await res.host.findLink(vxlan)
  const details = vx ? await getLinkDetails(res.host, vxlan) : undefined
  const intact =
    br?.alias === alias && vx?.alias === alias && vx.master === br.index && details?.vxlan?.vni === net.vni && br.up
  const inventory = intact ? await res.firewall.inventory() : undefined
  if (intact && vx && inventory?.networks.some((n) => n.bridge === bridge)) {
    refuseRouterAdvertisements(res, bridge) // a bridge an older cnm made
    const devices: Devices = { bridge, vxlan, vxlanIndex: vx.index, mtu: vx.mtu, firewall: true, stopWatch: undefined }
    net.devices = devices
    devices.stopWatch = await watchPeers(res, net)
    return 'restored'
  }
  await runAll([
    () => res.firewall.deleteNetwork({ bridge }),
    () => res.host.deleteLink(vxlan).catch(ignoreGone),
    () => res.host.deleteLink(bridge).catch(ignoreGone),
  ])
  await setupDevices(res, net)
  return 'rebuilt'
}

/**
 * Removes the network's devices from this host (its last endpoint here left): stops following the
 * cluster, then the firewall's rules, the VXLAN device (its FDB and neighbour entries go with it)
 * and the bridge. Every step runs; the failures are returned.
 */
export async function teardownDevices(res: DriverResources, net: NetworkState): Promise<unknown[]> {
  const devices = net.devices
  if (!devices) return []
  const errors = await runAll([
    async () => {
      await devices.stopWatch?.()
      await net.peers.drain()
    },
    () => (devices.firewall ? res.firewall.deleteNetwork({ bridge: devices.bridge }) : undefined),
    () => res.host.deleteLink(devices.vxlan).catch(ignoreGone),
    () => res.host.deleteLink(devices.bridge).catch(ignoreGone),
  ])
  net.devices = undefined
  forgetPeers(res, net)
  return errors
}
