import type { NetworkController } from '@cnm/controller'
import type { FastifyInstance } from 'fastify'
import { networkOptions } from '../network-options.js'
import { createNetwork } from '../ops/network.js'
import { findNetwork } from '../refs.js'
import { bodyOf, bool, num, obj, onlyKeys, requiredStr, str, strList } from './body.js'

type NetworkParams = { Params: { network: string } }

const CREATE_FIELDS = ['name', 'driver', 'subnet', 'gateway', 'ipRange', 'ipv6', 'internal', 'icc', 'mtu', 'options']

/** `/v1/networks`: list, create, inspect, delete. */
export function networkRoutes(app: FastifyInstance, controller: NetworkController): void {
  app.get('/v1/networks', async () => controller.networks().map((n) => n.inspect()))

  app.post('/v1/networks', async (req, reply) => {
    const body = bodyOf(req.body)
    onlyKeys(body, CREATE_FIELDS)
    const name = requiredStr(body, 'name')
    const flags = {
      subnet: strList(body, 'subnet'),
      gateway: strList(body, 'gateway'),
      ipRange: str(body, 'ipRange'),
      ipv6: bool(body, 'ipv6'),
      internal: bool(body, 'internal'),
      icc: bool(body, 'icc'),
      mtu: num(body, 'mtu'),
      options: obj(body, 'options'),
    }
    const options = networkOptions(flags)
    const net = await createNetwork(controller, name, str(body, 'driver') ?? 'bridge', options)
    return reply.code(201).send(net.inspect())
  })

  app.get<NetworkParams>('/v1/networks/:network', async (req) => findNetwork(controller, req.params.network).inspect())

  app.delete<NetworkParams>('/v1/networks/:network', async (req, reply) => {
    await findNetwork(controller, req.params.network).delete()
    return reply.code(204).send()
  })
}
