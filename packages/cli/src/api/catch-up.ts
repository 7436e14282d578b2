import type { NetworkController } from '@cnm/controller'
import type { FastifyInstance } from 'fastify'

/**
 * Before a read, brings the controller up to date with what other processes (a `cnm` command, say)
 * committed to the store: the controller catches up at the start of every operation, but not on
 * reads.
 */
export function catchUpBeforeReads(app: FastifyInstance, controller: NetworkController): void {
  app.addHook('onRequest', async (req) => {
    if (req.method === 'GET' || req.method === 'HEAD') await controller.refresh()
  })
}
