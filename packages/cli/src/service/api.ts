import type { CnmApi } from '@cnm/client'
import type { ServiceContext } from './context.js'
import {
  connectOp,
  createEndpointOp,
  disconnectOp,
  inspectEndpoint,
  listEndpoints,
  listNetworkEndpoints,
  removeEndpointOp,
} from './endpoints.js'
import { createNetworkOp, inspectNetwork, listNetworks, removeNetworkOp } from './networks.js'
import { createSandboxOp, inspectSandbox, listSandboxes, removeSandboxOp } from './sandboxes.js'
import { info, listPorts, reconcile, version } from './system.js'

/**
 * The REST API's operations on a controller, as the methods of `@cnm/client`'s `CnmApi`: what the
 * daemon's routes run, and what the `cnm` command runs in process when no daemon listens. Every
 * operation first catches up with what other processes committed to the store.
 */
export function createServiceApi(ctx: ServiceContext): CnmApi {
  const c = ctx.controller
  // Catch up with what other processes committed first: names they made resolve, and reads are current.
  const read = async <T>(fn: () => T | Promise<T>): Promise<T> => {
    await c.refresh()
    return fn()
  }
  return {
    version: async () => version(),
    info: () => read(() => info(ctx)),
    listNetworks: () => read(() => listNetworks(c)),
    createNetwork: (body) => read(() => createNetworkOp(ctx, body)),
    inspectNetwork: (network) => read(() => inspectNetwork(c, network)),
    removeNetwork: (network) => read(() => removeNetworkOp(ctx, network)),
    listNetworkEndpoints: (network) => read(() => listNetworkEndpoints(c, network)),
    createEndpoint: (network, body) => read(() => createEndpointOp(ctx, network, body)),
    inspectEndpoint: (network, endpoint) => read(() => inspectEndpoint(c, network, endpoint)),
    removeEndpoint: (network, endpoint) => read(() => removeEndpointOp(ctx, network, endpoint)),
    connect: (network, body) => read(() => connectOp(ctx, network, body)),
    disconnect: (network, body) => read(() => disconnectOp(ctx, network, body)),
    listEndpoints: () => read(() => listEndpoints(c)),
    listSandboxes: () => read(() => listSandboxes(c)),
    createSandbox: (body) => read(() => createSandboxOp(ctx, body)),
    inspectSandbox: (sandbox) => read(() => inspectSandbox(c, sandbox)),
    removeSandbox: (sandbox) => read(() => removeSandboxOp(ctx, sandbox)),
    listPorts: (query = {}) => read(() => listPorts(c, query.network)),
    reconcile: () => reconcile(c),
  }
}
