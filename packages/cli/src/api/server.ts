import type { NetworkController } from '@cnm/controller'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { type FastifyError, type FastifyInstance, type FastifyServerOptions, fastify } from 'fastify'
import { CliError } from '../errors.js'
import { ERR_SHUTTING_DOWN } from '../service/codes.js'
import type { DnsSource, ServiceInfo } from '../service/context.js'
import { registerCniRoute } from './cni-route.js'
import { errorBody, httpStatus, noRouteBody } from './errors.js'
import { EventBus } from './events.js'
import { createHandlers } from './handlers.js'
import { acceptEmptyJsonBodies } from './json-body.js'
import { lazyValidators } from './lazy-validators.js'
import { registerOpenApi } from './openapi.js'
import { bodyError, invalidRequest, methodNotAllowed, RequestError } from './request-errors.js'
import { allowedMethods, registerRoutes } from './routes.js'

/** Options of {@link createApiServer}. */
export interface ApiServerOptions {
  /** The controller every route works on (its owner opens and closes it). */
  controller: NetworkController
  /**
   * Fastify's logger: `false` (default), `true` (info), a level (`debug`, `warn`, …) or pino
   * options. Each request, each change (as an event) and each 5xx error is logged.
   */
  logger?: FastifyServerOptions['logger'] | string
  /** What `GET /v1/info` says about this process (default: a daemon on an in-memory picture). */
  info?: Partial<ServiceInfo>
  /** The daemon's DNS (names settle before a change is answered; sandboxes' resolver files). */
  dns?: DnsSource
  /** Where changes are announced (default: a bus of this server's own). */
  events?: EventBus
  /**
   * Serve HTTPS with mutual TLS: the server's certificate and key, and the CA a client's
   * certificate must chain to (a client without one is refused during the handshake).
   */
  tls?: { ca: string | Buffer; cert: string | Buffer; key: string | Buffer }
  /**
   * When Ajv compiles the routes' schemas: `lazy` (default) on a route's first request and the rest
   * once the server listens; `eager` all while the server is built (Fastify's default).
   */
  validators?: 'lazy' | 'eager'
}

/** The Fastify instance of the API, typed by TypeBox's provider. */
export type ApiServer = FastifyInstance & { readonly events: EventBus }

function loggerOption(logger: ApiServerOptions['logger']): FastifyServerOptions['logger'] {
  if (typeof logger === 'string') return { level: logger }
  return logger ?? false
}

const AJV = {
  customOptions: {
    // A field the schema does not list is an error (never silently dropped), and nothing is coerced.
    removeAdditional: false as const,
    coerceTypes: false as const,
    useDefaults: true,
    allErrors: false,
  },
}

/**
 * The REST API as a Fastify instance (not listening yet): every route of `@cnm/client/schema`'s
 * `API`, with its TypeBox schemas (validation, and the OpenAPI 3.1 document at
 * `GET /v1/openapi.json`), `GET /_ping` and `GET /v1/events`. Errors are
 * `{ "error": { "code", "kind", "message" } }` with the status of the kind (400 invalid or
 * unsupported, 404 not-found, 409 conflict, 500 kernel, 503 unavailable) or of the protocol (405
 * wrong method, 413, 415 not JSON); a schema violation is 400 `ERR_INVALID_REQUEST` naming the field.
 */
export function createApiServer(options: ApiServerOptions): ApiServer {
  const https = options.tls
    ? { https: { ...options.tls, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' } }
    : {}
  // Each route's schema is compiled on first use, the rest once the server listens (start-up time).
  const validators = options.validators === 'eager' ? undefined : lazyValidators()
  const app = fastify({
    ...(https as object),
    logger: loggerOption(options.logger),
    ajv: AJV,
    ...(validators ? { schemaController: { compilersFactory: { buildValidator: validators.buildValidator } } } : {}),
    return503OnClosing: false, // answered below, in cnm's error shape
    forceCloseConnections: true,
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as FastifyInstance
  const events = options.events ?? new EventBus(app.log)
  // Answers are serialised as they are (no field silently dropped); the route test checks them
  // against the documented schemas.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data))
  acceptEmptyJsonBodies(app)
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const mapped = err.validation
      ? invalidRequest(err.validation as never, err.validationContext ?? 'request')
      : (bodyError(err) ?? err)
    const status = mapped instanceof RequestError ? mapped.statusCode : httpStatus(mapped)
    if (status >= 500) req.log.error({ err }, 'request failed')
    else req.log.info({ code: (mapped as { code?: unknown }).code }, mapped.message)
    void reply.code(status).send(errorBody(mapped))
  })
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? req.url
    const allowed = allowedMethods(path)
    if (allowed.length > 0) {
      const err = methodNotAllowed(req.method, path, allowed)
      void reply.code(405).header('allow', allowed.join(', ')).send(errorBody(err))
      return
    }
    void reply.code(404).send(noRouteBody(req.method, req.url))
  })
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
    events.close()
  })
  const hold = options.dns?.hold?.bind(options.dns)
  if (hold) {
    // A request that may change the kernel (any but GET/HEAD/OPTIONS: connect, disconnect, create,
    // delete…) holds the DNS loops until its response is done, sent or aborted (`close` fires either
    // way): on a host a query flood keeps busy, the change still gets a core (issue 17).
    app.addHook('onRequest', async (req, reply) => {
      if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return
      reply.raw.once('close', hold())
    })
  }
  app.addHook('onRequest', async (_req, reply) => {
    if (!closing) return
    const err = new CliError(ERR_SHUTTING_DOWN, 'the daemon is stopping', { kind: 'unavailable' })
    return reply.code(503).header('connection', 'close').send(errorBody(err))
  })
  if (validators) app.addHook('onListen', async () => validators.warm())
  registerOpenApi(app)
  // In a plugin of their own, loaded after @fastify/swagger: its onRoute hook then sees every route.
  const handlers = createHandlers(options.controller, events, options.info, options.dns)
  void app.register(async (scope) => registerRoutes(scope, handlers))
  void app.register(async (scope) => registerCniRoute(scope, options.controller))
  return Object.assign(app, { events }) as ApiServer
}
