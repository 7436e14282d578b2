import type { NetworkController } from '@cnm/controller'
import { hasErrorCode } from '@cnm/driverapi'
import type { TSchema } from 'typebox'
import { ERR_DOCKER_ADDRESS_IN_USE } from './errors.js'
import type { PluginEventSink } from './events.js'
import { createIpam, type Ipam, type RequestAddressRequest } from './ipam.js'
import { type LeftEndpointSweep, parkedHolderOf } from './left-endpoints.js'
import { createNetworkDriver } from './network-driver.js'
import { SCHEMAS } from './schemas.js'
import type { StateFile } from './state-file.js'

/** One request of the protocol: its path, its body's schema, and what answers it. */
export interface PluginRoute {
  /** `/NetworkDriver.CreateNetwork`, … */
  path: string
  body: TSchema
  /** The answer's error field: `Err` for the network driver and activation, `Error` for IPAM. */
  errorField: 'Err' | 'Error'
  handle(body: never): unknown
}

const ok = (): Record<string, never> => ({})

/**
 * Every request cnm answers: activation, the network driver (`NetworkDriver.*`) and IPAM
 * (`IpamDriver.*`). A path not listed gets 404 with `{"Err": …}` naming it.
 */
export function pluginRoutes(
  controller: NetworkController,
  state: StateFile,
  emit?: PluginEventSink,
  ipam: Ipam = createIpam(controller, state),
  left?: Pick<LeftEndpointSweep, 'evict'>,
): PluginRoute[] {
  const net = createNetworkDriver(controller, state, emit, left)
  const nd = (name: string, body: TSchema, handle: (b: never) => unknown): PluginRoute => ({
    path: `/NetworkDriver.${name}`,
    body,
    errorField: 'Err',
    handle,
  })
  const ip = (name: string, body: TSchema, handle: (b: never) => unknown): PluginRoute => ({
    path: `/IpamDriver.${name}`,
    body,
    errorField: 'Error',
    handle,
  })
  const S = SCHEMAS
  return [
    {
      path: '/Plugin.Activate',
      body: S.empty,
      errorField: 'Err',
      handle: () => ({ Implements: ['NetworkDriver', 'IpamDriver'] }),
    },
    nd('GetCapabilities', S.empty, () => ({ Scope: 'local', ConnectivityScope: 'local' })),
    nd('CreateNetwork', S.createNetwork, (b) => net.createNetwork(b)),
    nd('DeleteNetwork', S.network, (b) => net.deleteNetwork(b)),
    nd('CreateEndpoint', S.createEndpoint, (b) => net.createEndpoint(b)),
    nd('EndpointOperInfo', S.endpoint, (b) => net.endpointOperInfo(b)),
    nd('DeleteEndpoint', S.endpoint, (b) => net.deleteEndpoint(b)),
    nd('Join', S.join, (b) => net.join(b)),
    nd('Leave', S.endpoint, (b) => net.leave(b)),
    nd('ProgramExternalConnectivity', S.program, (b) => net.programExternalConnectivity(b)),
    nd('RevokeExternalConnectivity', S.endpoint, (b) => net.revokeExternalConnectivity(b)),
    // Node discovery is for global-scope drivers: a local one has nothing to learn.
    nd('DiscoverNew', S.discovery, ok),
    nd('DiscoverDelete', S.discovery, ok),
    nd('AllocateNetwork', S.allocateNetwork, (b) => net.allocateNetwork(b)),
    // Nothing was allocated (AllocateNetwork refuses), so there is nothing to free.
    nd('FreeNetwork', S.network, ok),
    ip('GetCapabilities', S.empty, () => ({ RequiresMACAddress: false, RequiresRequestReplay: false })),
    ip('GetDefaultAddressSpaces', S.empty, () => ({
      LocalDefaultAddressSpace: 'cnm-local',
      GlobalDefaultAddressSpace: 'cnm-global',
    })),
    ip('RequestPool', S.requestPool, (b) => ipam.requestPool(b)),
    ip('ReleasePool', S.pool, (b: { PoolID: string }) => {
      ipam.releasePool(b.PoolID)
      return {}
    }),
    ip('RequestAddress', S.requestAddress, async (b: RequestAddressRequest) => {
      try {
        return ipam.requestAddress(b)
      } catch (err) {
        // An address (`--ip`) a Docker endpoint already left when cnm started holds goes at once to
        // the one asking (a container its restart policy starts again), as its ports do.
        if (!left || !b.Address || !hasErrorCode(err, ERR_DOCKER_ADDRESS_IN_USE)) throw err
        const holder = await parkedHolderOf(controller, b.Address)
        const gone = holder && (await left.evict(holder.id))
        if (gone === undefined || gone.error !== undefined) throw err
        return ipam.requestAddress(b)
      }
    }),
    ip('ReleaseAddress', S.releaseAddress, (b: { PoolID: string; Address: string }) => {
      ipam.releaseAddress(b.PoolID, b.Address)
      return {}
    }),
  ]
}
