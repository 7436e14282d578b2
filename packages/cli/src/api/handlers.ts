import type { NetworkController } from '@cnm/controller'
import { createServiceApi } from '../service/api.js'
import type { DnsSource, ServiceContext, ServiceInfo } from '../service/context.js'
import type { EventBus } from './events.js'
import { openApiDocument } from './openapi.js'
import type { RouteHandlers } from './route-types.js'

/** The route handlers: each runs the service operation of the same name. */
export function createHandlers(
  controller: NetworkController,
  events: EventBus,
  info: Partial<ServiceInfo> = {},
  dns?: DnsSource,
): RouteHandlers {
  const ctx: ServiceContext = {
    controller,
    emit: (e) => events.emit(e),
    info: {
      mode: 'daemon',
      store: ':memory:',
      sandboxDir: '',
      listeners: () => [],
      heldPorts: () => 0,
      ...info,
    },
    ...(dns ? { dns } : {}),
  }
  const api = createServiceApi(ctx)
  return {
    ping: async ({ reply }) => {
      void reply.header('content-type', 'text/plain; charset=utf-8').header('cache-control', 'no-store')
      return 'OK'
    },
    version: () => api.version(),
    info: () => api.info(),
    openapi: async ({ req }) => openApiDocument(req.server) as never,
    events: async ({ query, reply }) => {
      events.subscribe(reply, query.type)
      return undefined
    },
    listNetworks: () => api.listNetworks(),
    createNetwork: ({ body }) => api.createNetwork(body),
    inspectNetwork: ({ params }) => api.inspectNetwork(params.network),
    removeNetwork: ({ params }) => api.removeNetwork(params.network),
    pruneNetworks: ({ body }) => api.pruneNetworks(body),
    listNetworkEndpoints: ({ params }) => api.listNetworkEndpoints(params.network),
    createEndpoint: ({ params, body }) => api.createEndpoint(params.network, body),
    inspectEndpoint: ({ params }) => api.inspectEndpoint(params.network, params.endpoint),
    removeEndpoint: ({ params }) => api.removeEndpoint(params.network, params.endpoint),
    connect: ({ params, body }) => api.connect(params.network, body),
    disconnect: ({ params, body }) => api.disconnect(params.network, body),
    listEndpoints: () => api.listEndpoints(),
    listSandboxes: () => api.listSandboxes(),
    createSandbox: ({ body }) => api.createSandbox(body),
    inspectSandbox: ({ params }) => api.inspectSandbox(params.sandbox),
    removeSandbox: ({ params }) => api.removeSandbox(params.sandbox),
    sandboxResolver: ({ params }) => api.sandboxResolver(params.sandbox),
    listPorts: ({ query }) => api.listPorts(query),
    reconcile: () => api.reconcile(),
  }
}
