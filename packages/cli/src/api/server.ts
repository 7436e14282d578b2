import type { NetworkController } from '@cnm/controller'
import { type FastifyInstance, fastify } from 'fastify'
import { catchUpBeforeReads } from './catch-up.js'
import { endpointRoutes } from './endpoints.js'
import { errorBody, httpStatus, noRouteBody } from './errors.js'
import { networkRoutes } from './networks.js'
import { sandboxRoutes } from './sandboxes.js'
import { systemRoutes } from './system.js'

/** Options of {@link createApiServer}. */
export interface ApiServerOptions {
  /** The controller every route works on (its owner opens and closes it). */
  controller: NetworkController
  /** Fastify's logger (default off). */
  logger?: boolean
}

/**
 * The REST API as a Fastify instance (not listening yet): networks, endpoints, sandboxes, joins,
 * ports and reconcile under `/v1`, JSON in and out, errors as
 * `{ "error": { "code", "kind", "message" } }` with the status of the error's kind: 400 (invalid,
 * unsupported), 404 (not-found), 409 (conflict), 500 (kernel, or no kind) or 503 (unavailable).
 */
export function createApiServer(options: ApiServerOptions): FastifyInstance {
  const app = fastify({ logger: options.logger ?? false })
  app.setErrorHandler((err, _req, reply) => {
    void reply.code(httpStatus(err)).send(errorBody(err))
  })
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send(noRouteBody(req.method, req.url))
  })
  catchUpBeforeReads(app, options.controller)
  networkRoutes(app, options.controller)
  endpointRoutes(app, options.controller)
  sandboxRoutes(app, options.controller)
  systemRoutes(app, options.controller)
  return app
}
