import type { NetworkController } from '@cnm/controller'
import type { FastifyInstance } from 'fastify'
import { endpointOptions } from '../endpoint-options.js'
import { connect, disconnect } from '../ops/connect.js'
import { createEndpoint } from '../ops/endpoint.js'
import type { PortBindingSpec } from '../publish-spec.js'
import { allEndpoints, findEndpoint, findNetwork, findSandbox } from '../refs.js'
import { type Body, bodyOf, objList, onlyKeys, requiredStr, str, strList } from './body.js'

type NetworkParams = { Params: { network: string } }
type EndpointParams = { Params: { network: string; endpoint: string } }

const OPTION_FIELDS = ['publish', 'portBindings', 'ip', 'ip6', 'macAddress']

function options(body: Body): Record<string, unknown> {
  return endpointOptions({
    publish: strList(body, 'publish'),
    portBindings: objList<PortBindingSpec>(body, 'portBindings'),
    ip: str(body, 'ip'),
    ip6: str(body, 'ip6'),
    macAddress: str(body, 'macAddress'),
  })
}

/** Endpoints of a network, and connecting sandboxes to networks. */
export function endpointRoutes(app: FastifyInstance, controller: NetworkController): void {
  app.get('/v1/endpoints', async () => allEndpoints(controller).map((e) => e.inspect()))

  app.get<NetworkParams>('/v1/networks/:network/endpoints', async (req) =>
    findNetwork(controller, req.params.network)
      .endpoints()
      .map((e) => e.inspect()),
  )

  app.post<NetworkParams>('/v1/networks/:network/endpoints', async (req, reply) => {
    const body = bodyOf(req.body)
    onlyKeys(body, ['name', 'sandbox', ...OPTION_FIELDS])
    const [name, sandboxRef, opts] = [requiredStr(body, 'name'), str(body, 'sandbox'), options(body)]
    const net = findNetwork(controller, req.params.network)
    const sb = sandboxRef === undefined ? undefined : findSandbox(controller, sandboxRef)
    const ep = await createEndpoint(net, name, opts, sb)
    return reply.code(201).send(ep.inspect())
  })

  app.get<EndpointParams>('/v1/networks/:network/endpoints/:endpoint', async (req) =>
    findEndpoint(findNetwork(controller, req.params.network), req.params.endpoint).inspect(),
  )

  app.delete<EndpointParams>('/v1/networks/:network/endpoints/:endpoint', async (req, reply) => {
    await findEndpoint(findNetwork(controller, req.params.network), req.params.endpoint).delete()
    return reply.code(204).send()
  })

  app.post<NetworkParams>('/v1/networks/:network/connect', async (req, reply) => {
    const body = bodyOf(req.body)
    onlyKeys(body, ['sandbox', 'endpoint', ...OPTION_FIELDS])
    const [sandboxRef, endpointName, opts] = [requiredStr(body, 'sandbox'), str(body, 'endpoint'), options(body)]
    const net = findNetwork(controller, req.params.network)
    const ep = await connect(net, findSandbox(controller, sandboxRef), endpointName, opts)
    return reply.code(201).send(ep.inspect())
  })

  app.post<NetworkParams>('/v1/networks/:network/disconnect', async (req, reply) => {
    const body = bodyOf(req.body)
    onlyKeys(body, ['sandbox'])
    const sandboxRef = requiredStr(body, 'sandbox')
    const net = findNetwork(controller, req.params.network)
    await disconnect(net, findSandbox(controller, sandboxRef))
    return reply.code(204).send()
  })
}
