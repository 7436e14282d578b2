import type { NetworkController } from '@cnm/controller'
import type { FastifyInstance } from 'fastify'
import { findNetwork } from '../refs.js'
import { cliVersion } from '../version.js'

type PortQuery = { Querystring: { network?: string } }

/** `/v1/version`, `/v1/ports`, `/v1/reconcile`. */
export function systemRoutes(app: FastifyInstance, controller: NetworkController): void {
  app.get('/v1/version', async () => ({ version: cliVersion() }))

  app.get<PortQuery>('/v1/ports', async (req) => {
    const only = req.query.network === undefined ? undefined : findNetwork(controller, req.query.network).name
    return controller.ports().filter((p) => only === undefined || p.network === only)
  })

  app.post('/v1/reconcile', async () => controller.reconcile())
}
