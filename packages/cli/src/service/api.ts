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
import { pruneNetworksOp } from './prune.js'
import { createSandboxOp, inspectSandbox, listSandboxes, removeSandboxOp, sandboxResolver } from './sandboxes.js'
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
  // A change is visible to DNS queries before it is answered (a name resolves once connect returns).
  const write = async <T>(fn: () => T | Promise<T>): Promise<T> => {
    try {
      return await read(fn)
    } finally {
      await ctx.dns?.settle()
    }
  }
  return {
    version: async () => version(),
    info: () => read(() => info(ctx)),
    listNetworks: () => read(() => listNetworks(c)),
    createNetwork: (body) => write(() => createNetworkOp(ctx, body)),
    inspectNetwork: (network) => read(() => inspectNetwork(c, network)),
    removeNetwork: (network) => write(() => removeNetworkOp(ctx, network)),
    pruneNetworks: (filters = {}) => write(() => pruneNetworksOp(ctx, filters)),
    listNetworkEndpoints: (network) => read(() => listNetworkEndpoints(c, network)),
    createEndpoint: (network, body) => write(() => createEndpointOp(ctx, network, body)),
    inspectEndpoint: (network, endpoint) => read(() => inspectEndpoint(c, network, endpoint)),
    removeEndpoint: (network, endpoint) => write(() => removeEndpointOp(ctx, network, endpoint)),
    connect: (network, body) => write(() => connectOp(ctx, network, body)),
    disconnect: (network, body) => write(() => disconnectOp(ctx, network, body)),
    listEndpoints: () => read(() => listEndpoints(c)),
    listSandboxes: () => read(() => listSandboxes(c)),
    createSandbox: (body) => read(() => createSandboxOp(ctx, body)),
    inspectSandbox: (sandbox) => read(() => inspectSandbox(c, sandbox)),
    removeSandbox: (sandbox) => write(() => removeSandboxOp(ctx, sandbox)),
    sandboxResolver: (sandbox) => read(() => sandboxResolver(ctx, sandbox)),
    listPorts: (query = {}) => read(() => listPorts(c, query.network)),
    reconcile: () => write(() => reconcile(c)),
  }
}
