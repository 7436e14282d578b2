import {
  hasErrorCode,
  type Interface,
  pickInterfaceName,
  runAll,
  type SandboxInfo,
  type UndoStack,
  withUndo,
} from '@cnm/driverapi'
import { type Handle, openHandle } from '@cnm/netlink'
import { allocateAddress } from './allocate.js'
import { deferTeardown } from './deferred-teardown.js'
import type { EndpointConfig } from './endpoint-config.js'
import { hostVethName, macFromIPv4, parkedVethName, randomMac } from './endpoint-names.js'
import { withHostBinding } from './host-binding.js'
import { CNM_LINK_GROUP, endpointAlias } from './marks.js'
import { flushConntrack, publishPorts, unpublishPorts } from './publish.js'
import type { DriverResources, EndpointState, NetworkState } from './resources.js'
import { subnetHolding } from './subnets.js'

function allocate(
  res: DriverResources,
  net: NetworkState,
  ep: EndpointState,
  cfg: EndpointConfig,
  undo: UndoStack,
): void {
  if (net.subnetV4) ep.ipv4 = allocateAddress(res.allocator, net, 4, cfg.ipv4Address, undo)
  if (net.subnetV6) ep.ipv6 = allocateAddress(res.allocator, net, 6, cfg.ipv6Address, undo)
  // IPv6-only: no address to derive it from, so a random one (locally administered), as Docker's.
  ep.mac = cfg.macAddress ?? (ep.ipv4 ? macFromIPv4(ep.ipv4) : ep.mac || randomMac())
}

async function createVeth(res: DriverResources, net: NetworkState, ep: EndpointState, undo: UndoStack): Promise<void> {
  const mtu = net.config.mtu
  let sandbox: Handle | undefined
  try {
    if (ep.sandboxKey) {
      sandbox = await openHandle({ netns: ep.sandboxKey })
      const names = (await sandbox.listLinks()).map((l) => l.name)
      ep.containerVeth = pickInterfaceName(names, ep.config.interfaceName, `sandbox ${ep.sandboxKey}`)
    }
    await res.host.createVeth(ep.hostVeth, ep.containerVeth, {
      ...(ep.sandboxKey ? { peerNetns: ep.sandboxKey } : {}),
      ...(mtu ? { mtu } : {}),
      peerMac: ep.mac,
      alias: endpointAlias(res.owner, net.id, ep.id),
      group: CNM_LINK_GROUP,
      // Attached to the bridge and up in the creating request itself.
      ...(net.bridgeIndex !== undefined ? { master: net.bridgeIndex, up: true } : {}),
    })
  } finally {
    sandbox?.close()
  }
  undo.push(() => res.host.deleteLink(ep.hostVeth))
}

/**
 * What the sandbox configures: the addresses with the length of the subnet each lies in, and as
 * default gateways the gateways of those subnets (an endpoint in a network's second subnet routes
 * through that subnet's gateway).
 */
function sandboxInfo(net: NetworkState, ep: EndpointState): SandboxInfo {
  const [v4, v6] = [subnetHolding(net, ep.ipv4), subnetHolding(net, ep.ipv6)]
  const iface: Interface = {
    srcName: ep.containerVeth,
    dstName: ep.sandboxKey ? ep.containerVeth : (ep.config.interfaceName ?? 'eth0'),
    macAddress: ep.mac,
    ...(ep.ipv4 && v4 ? { address: `${ep.ipv4}/${v4.prefixLength}` } : {}),
    ...(ep.ipv6 && v6 ? { addressIPv6: `${ep.ipv6}/${v6.prefixLength}` } : {}),
    ...(net.config.mtu ? { mtu: net.config.mtu } : {}),
  }
  return {
    interfaces: [iface],
    ...(v4?.gateway && !net.config.internal ? { gateway: v4.gateway } : {}),
    ...(v6?.gateway && !net.config.internal ? { gatewayIPv6: v6.gateway } : {}),
  }
}

/**
 * Creates an endpoint: addresses, a veth whose container end is born in the sandbox (when a key
 * is given) under its final name, MTU and MAC on both ends, the host end on the bridge (hairpin
 * when ports are published), then the published ports (and the conntrack entries of their host
 * ports flushed, so flows that were already sending take the new rules). Undone in reverse on any
 * failure (the original error is thrown, undo failures attached as `undoErrors`).
 */
export async function createEndpoint(
  res: DriverResources,
  net: NetworkState,
  eid: string,
  sandboxKey: string,
  cfg: EndpointConfig,
): Promise<SandboxInfo> {
  const ep: EndpointState = {
    id: eid,
    hostVeth: hostVethName(eid),
    containerVeth: parkedVethName(eid),
    sandboxKey,
    ipv4: undefined,
    ipv6: undefined,
    mac: '',
    ports: [],
    config: cfg,
  }
  await withUndo(async (undo) => {
    allocate(res, net, ep, cfg, undo)
    await createVeth(res, net, ep, undo)
    if (net.bridgeIndex === undefined) {
      await res.host.setMaster(ep.hostVeth, net.bridgeName)
      await res.host.setLinkUp(ep.hostVeth)
    }
    if (cfg.portBindings.length > 0) await res.host.setHairpin(ep.hostVeth, true)
    if (cfg.portBindings.length > 0) {
      net.portMapper ??= res.newPortMapper(net.bridgeName, net.config.holdPorts)
      await publishPorts(net.portMapper, ep, withHostBinding(cfg.portBindings, net.config), res)
    }
  })
  net.endpoints.set(eid, ep)
  return sandboxInfo(net, ep)
}

/**
 * Removes an endpoint: its published ports (a firewall transaction in process, well under a
 * millisecond), then its veth (both ends; the kernel's own wait dominates), then the conntrack
 * entries of its host ports and its addresses (once it can send no more: an answer it sent after
 * the flush would be tracked anew; a masqueraded flow its peer keeps alive would otherwise reach
 * the address's next owner), then its addresses. Every step runs, and every failure is returned.
 *
 * With `deferTeardown` (the sole writer of its store, a long-lived owner), the ports go within the
 * delete and the rest after it answered (deferred-teardown.ts): the veth's deletion (the kernel
 * waits inside it ~20 ms here) and the flush (one dump of the kernel's whole conntrack table,
 * ~13 ms) are more than the rest of a Docker disconnect's work in cnm, and nothing needs them done
 * before the answer but the next owner of its addresses (or of its id), which cannot come before
 * the release. An endpoint asking for one of its addresses (or its id), or for an address of a full
 * pool, and ports published while it had published ports (any network), wait for it (so addresses
 * and ports are handed out as without it), as do the network's delete and the driver's close; a
 * failure goes to `onTeardownError`. A restart after a crash in between finds the veth as a stray,
 * and the entries of free addresses in one sweep (conntrack-sweep.ts).
 */
export async function deleteEndpoint(res: DriverResources, net: NetworkState, ep: EndpointState): Promise<unknown[]> {
  const ports = [...ep.ports]
  const errors = await unpublishPorts(net.portMapper, ep)
  const release = (ip: string | undefined) => (): void => {
    const pool = subnetHolding(net, ip)?.subnet
    if (pool && ip) res.allocator.releaseIP(pool, ip)
  }
  const flush = (): Promise<void> => flushConntrack(res.host, ports, [ep.ipv4, ep.ipv6])
  const removeLink = (): Promise<void> =>
    res.host.deleteLink(ep.hostVeth).catch((err: unknown) => {
      if (!hasErrorCode(err, 'ENODEV')) throw err // gone with its sandbox
    })
  net.endpoints.delete(ep.id)
  if (!res.deferTeardown) {
    errors.push(...(await runAll([removeLink, flush, release(ep.ipv4), release(ep.ipv6)])))
    return errors
  }
  // After the answer: nothing that follows a delete (Docker's release of the address in its IPAM,
  // its next command) needs the veth's deletion (~20 ms of the kernel's) or the flush's dump of the
  // table (~13 ms) done first (deferred-teardown.ts).
  deferTeardown(res, net, ep, ports, {
    removeLink,
    release: [release(ep.ipv4), release(ep.ipv6)],
    parked: await isParked(res.host, ep),
  })
  return errors
}

/**
 * Whether the endpoint's container end waits in the host's namespace: given no sandbox key, it was
 * born there under a name made from the endpoint's id (no other endpoint's veth can hold it while
 * this one's host end exists), and dockerd moves it back there under that name when its container
 * leaves the network or goes. Only the host can send from it then.
 */
export async function isParked(host: Pick<Handle, 'findLink'>, ep: EndpointState): Promise<boolean> {
  if (ep.sandboxKey) return false
  try {
    return (await host.findLink(ep.containerVeth))?.linkIndex !== undefined
  } catch {
    return false // not known: the teardown keeps its order
  }
}
