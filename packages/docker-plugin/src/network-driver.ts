import type { Endpoint, Network, NetworkController } from '@cnm/controller'
import { CnmError, type PortBinding, withUndo } from '@cnm/driverapi'
import { tryParseCIDR } from '@cnm/ip'
import { DockerPluginError, ERR_DOCKER_NOT_SUPPORTED, ERR_DOCKER_UNKNOWN_OBJECT, invalidRequest } from './errors.js'
import { endpointCreated, endpointDeleted, endpointPorts, type PluginEventSink } from './events.js'
import { LEFT_ENDPOINT_GRACE_MS, type LeftEndpointSweep, parkedDockerEndpoints } from './left-endpoints.js'
import { checkDockerId, endpointName, networkName } from './names.js'
import { type CreateNetworkRequest, parseCreateNetwork } from './network-options.js'
import { parsePortMap, published, servable } from './port-map.js'
import type { StateFile } from './state-file.js'

export interface EndpointRequest {
  NetworkID: string
  EndpointID: string
}
export interface CreateEndpointRequest extends EndpointRequest {
  Interface?: { Address?: string; AddressIPv6?: string; MacAddress?: string } | null
  Options?: Record<string, unknown> | null
}
export interface JoinRequest extends EndpointRequest {
  SandboxKey?: string
  Options?: Record<string, unknown> | null
}
export interface ProgramRequest extends EndpointRequest {
  Options?: Record<string, unknown> | null
}

/** The network driver's verbs, as the plugin routes call them (answers in the protocol's shape). */
export interface NetworkDriverVerbs {
  createNetwork(req: CreateNetworkRequest): Promise<Record<string, never>>
  deleteNetwork(req: { NetworkID: string }): Promise<Record<string, never>>
  createEndpoint(req: CreateEndpointRequest): Promise<{ Interface?: Record<string, string> }>
  endpointOperInfo(req: EndpointRequest): { Value: Record<string, unknown> }
  deleteEndpoint(req: EndpointRequest): Promise<Record<string, never>>
  join(req: JoinRequest): {
    InterfaceName: { SrcName: string; DstPrefix: string }
    Gateway?: string
    GatewayIPv6?: string
    StaticRoutes: { Destination: string; RouteType: number; NextHop?: string }[]
  }
  leave(req: EndpointRequest): Record<string, never>
  programExternalConnectivity(req: ProgramRequest): Promise<Record<string, never>>
  revokeExternalConnectivity(req: EndpointRequest): Promise<Record<string, never>>
  allocateNetwork(req: { NetworkID: string }): never
}

/**
 * The Docker endpoint whose container is not running that holds a host port `wanted` asks for — its
 * end waits in this namespace (dockerd moved it back out: ports are published only once it is in
 * its container), so it left while cnm was down; undefined when none does.
 */
async function leftHolder(
  controller: NetworkController,
  ep: Endpoint,
  wanted: readonly PortBinding[],
): Promise<{ id: string; net: Network; ep: Endpoint } | undefined> {
  for (const [id, { net, ep: other }] of await parkedDockerEndpoints(controller)) {
    const holds = other
      .inspect()
      .ports.some((p) =>
        wanted.some(
          (b) =>
            b.proto === p.proto &&
            b.hostPort !== undefined &&
            p.hostPort <= (b.hostPortEnd ?? b.hostPort) &&
            b.hostPort <= p.hostPortEnd,
        ),
      )
    if (id !== ep.id && holds) return { id, net, ep: other }
  }
  return undefined
}

/** Why a left endpoint still holds a port (it was not parked at cnm's start), with how to remove it now. */
function leftHint(h: { net: Network; ep: Endpoint }): string {
  return `it is held by ${h.ep.name} of network ${h.net.name}, whose container is not running (it left while cnm was down; cnm removes such an endpoint ${LEFT_ENDPOINT_GRACE_MS / 1000} s after its start, or at once: cnm endpoint rm -f ${h.net.name} ${h.ep.name})`
}

/** The plain address of a CIDR (`10.0.0.2/24` → `10.0.0.2`), checked for its family. */
function plain(what: string, v: string | undefined, family: 4 | 6): string | undefined {
  if (v === undefined || v === '') return undefined
  const p = tryParseCIDR(v)
  if (p?.family !== family) throw invalidRequest(`${what} ${JSON.stringify(v)} is not an IPv${family} CIDR`)
  return p.address
}

/**
 * Docker's network driver verbs on cnm's controller: a Docker network is the cnm bridge network
 * `docker-<id>`, a Docker endpoint the cnm endpoint `docker-<id>` on it, made with no sandbox key so
 * that the container's end of its veth waits in the daemon's namespace for dockerd to move into the
 * container (Join names it). Each verb is one controller operation (one store transaction): a
 * failure leaves nothing. Deleting what is already gone succeeds (dockerd retries deletes).
 */
export function createNetworkDriver(
  controller: NetworkController,
  state: StateFile,
  emit: PluginEventSink = () => undefined,
  left?: Pick<LeftEndpointSweep, 'evict'>,
): NetworkDriverVerbs {
  const network = (nid: unknown): Network | undefined =>
    controller.networkByName(networkName(checkDockerId('network', nid)))
  const mustNetwork = (nid: unknown): Network => {
    const n = network(nid)
    if (!n) throw new DockerPluginError(ERR_DOCKER_UNKNOWN_OBJECT, `network ${nid} is not a cnm network`)
    return n
  }
  const endpoint = (req: EndpointRequest): Endpoint | undefined => {
    const name = endpointName(checkDockerId('endpoint', req.EndpointID))
    return network(req.NetworkID)
      ?.endpoints()
      .find((e) => e.name === name)
  }
  const mustEndpoint = (req: EndpointRequest): Endpoint => {
    const ep = endpoint(req)
    if (!ep) {
      throw new DockerPluginError(
        ERR_DOCKER_UNKNOWN_OBJECT,
        `endpoint ${req.EndpointID} of network ${req.NetworkID} is not a cnm endpoint`,
      )
    }
    return ep
  }

  return {
    async createNetwork(req) {
      const nid = checkDockerId('network', req.NetworkID)
      const config = parseCreateNetwork(req)
      if (network(nid)) return {} // dockerd asks again after its own restart: the network is there
      const net = await withUndo(async (undo) => {
        const driver = await controller.newNetworkDriver('bridge')
        const made = await controller.newNetwork(driver, networkName(nid), config.bridge, { ipam: config.ipam })
        undo.push(() => made.delete())
        // host_binding_ipv4 is the bridge's own option now (its config, in cnm's store); only
        // networks made by an older cnm have it in the state file, which the port map still reads.
        state.setNetwork(nid, {
          ...(Object.keys(config.aux).length > 0 ? { aux: config.aux } : {}),
          ...(config.ifacePrefix ? { ifacePrefix: config.ifacePrefix } : {}),
        })
        return made
      })
      emit({ type: 'network', action: 'create', id: net.id, name: net.name })
      return {}
    },

    async deleteNetwork(req) {
      const nid = checkDockerId('network', req.NetworkID)
      const net = network(nid)
      if (net) {
        await net.delete()
        emit({ type: 'network', action: 'delete', id: net.id, name: net.name })
      }
      state.deleteNetwork(nid)
      return {}
    },

    async createEndpoint(req) {
      const net = mustNetwork(req.NetworkID)
      const eid = checkDockerId('endpoint', req.EndpointID)
      const owner = `endpoint ${eid}`
      const iface = req.Interface ?? {}
      const ipv4 = plain(`${owner}: address`, iface.Address, 4)
      const ipv6 = plain(`${owner}: IPv6 address`, iface.AddressIPv6, 6)
      // Checked here, published by ProgramExternalConnectivity (only on the network that gives the
      // container its way out; dockerd moves that between networks).
      parsePortMap(owner, req.Options, state.network(req.NetworkID).hostBindingIPv4)
      const options = {
        ...(ipv4 ? { ipv4Address: ipv4 } : {}),
        ...(ipv6 ? { ipv6Address: ipv6 } : {}),
        ...(iface.MacAddress ? { macAddress: iface.MacAddress } : {}),
      }
      const { endpoint: created, sandboxInfo } = await net.createEndpoint(endpointName(eid), '', options)
      endpointCreated(emit, created.inspect())
      const made = sandboxInfo.interfaces[0]
      // Only what dockerd did not give: it refuses a driver that changes what it chose.
      const answer: Record<string, string> = {}
      if (!iface.Address && made?.address) answer.Address = made.address
      if (!iface.AddressIPv6 && made?.addressIPv6) answer.AddressIPv6 = made.addressIPv6
      if (!iface.MacAddress && made?.macAddress) answer.MacAddress = made.macAddress
      return Object.keys(answer).length > 0 ? { Interface: answer } : {}
    },

    endpointOperInfo(req) {
      const info = mustEndpoint(req).inspect()
      return {
        Value: {
          id: info.id,
          name: info.name,
          network: info.network.name,
          ...(info.ipv4 ? { ipv4: info.ipv4 } : {}),
          ...(info.ipv6 ? { ipv6: info.ipv6 } : {}),
          ...(info.macAddress ? { macAddress: info.macAddress } : {}),
          ports: info.ports.map(({ network: _n, endpoint: _e, ...p }) => p),
        },
      }
    },

    async deleteEndpoint(req) {
      const ep = endpoint(req)
      if (ep) {
        const before = ep.inspect()
        await ep.delete()
        endpointDeleted(emit, before)
      }
      return {}
    },

    join(req) {
      const ep = mustEndpoint(req)
      const info = ep.sandboxInfo
      const iface = info.interfaces[0]
      if (!iface) throw new DockerPluginError(ERR_DOCKER_UNKNOWN_OBJECT, `endpoint ${req.EndpointID} has no interface`)
      return {
        // The container's end, waiting in this namespace: dockerd moves it in and names it ethN
        // (or <prefix>N with the network's container_iface_prefix).
        InterfaceName: { SrcName: iface.srcName, DstPrefix: state.network(req.NetworkID).ifacePrefix ?? 'eth' },
        ...(info.gateway ? { Gateway: info.gateway } : {}),
        ...(info.gatewayIPv6 ? { GatewayIPv6: info.gatewayIPv6 } : {}),
        StaticRoutes: (info.staticRoutes ?? []).map((r) => ({
          Destination: r.destination,
          RouteType: r.nextHop ? 0 : 1,
          ...(r.nextHop ? { NextHop: r.nextHop } : {}),
        })),
      }
    },

    leave(req) {
      checkDockerId('endpoint', req.EndpointID)
      checkDockerId('network', req.NetworkID)
      return {}
    },

    async programExternalConnectivity(req) {
      const ep = mustEndpoint(req)
      const before = ep.inspect()
      const wanted = servable(
        parsePortMap(`endpoint ${req.EndpointID}`, req.Options, state.network(req.NetworkID).hostBindingIPv4),
        before,
      )
      // Asked again (dockerd retries, or replays after its restart): what is published stays.
      if (wanted.length === 0 || (before.ports.length > 0 && published(wanted, before.ports))) return {}
      let made: Awaited<ReturnType<Endpoint['publishPorts']>>
      try {
        made = await ep.publishPorts(wanted)
      } catch (err) {
        if (!(err instanceof CnmError)) throw err
        const holder = await leftHolder(controller, ep, wanted).catch(() => undefined)
        if (holder === undefined) throw err
        // Held by an endpoint already left when cnm started (a container that died while cnm was
        // down, restarted now by its restart policy, wants its ports back): it goes now, not after
        // the grace period, and the publish is tried again.
        const gone = await left?.evict(holder.id)
        if (gone === undefined || gone.error !== undefined)
          throw new CnmError(err.code, err.kind, `${err.message}: ${leftHint(holder)}`, { cause: err })
        made = await ep.publishPorts(wanted)
      }
      endpointPorts(emit, before, 'publish', made)
      return {}
    },

    async revokeExternalConnectivity(req) {
      const ep = endpoint(req)
      if (!ep) return {} // gone already: dockerd retries
      const before = ep.inspect()
      if (before.ports.length === 0) return {}
      const gone = await ep.unpublishPorts()
      endpointPorts(emit, before, 'unpublish', gone)
      return {}
    },

    allocateNetwork(req) {
      throw new DockerPluginError(
        ERR_DOCKER_NOT_SUPPORTED,
        `network ${req.NetworkID}: AllocateNetwork (swarm) is not supported: cnm's Docker driver is local scope`,
      )
    },
  }
}
