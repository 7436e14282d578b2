import { API, ErrorBodySchema, isMediaAnswer, type OperationId, type RouteSpec } from '@cnm/client/schema'
import type { FastifyInstance, FastifySchema } from 'fastify'
import type { RouteHandlers, RouteInput } from './route-types.js'

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  400: 'Invalid request (ERR_INVALID_REQUEST naming the field), or an invalid argument',
  404: 'No such network, endpoint or sandbox',
  405: 'Method not allowed (Allow names the methods)',
  409: 'Conflict: exists already, in use, overlapping, not joined',
  415: 'The body is not application/json',
  500: 'The kernel refused, or an error cnm did not classify',
  503: 'Unavailable: shutting down, or the store is not reachable',
}

/** The Fastify schema of a route: its parts, its answer and every error it may answer. */
export function fastifySchema(spec: RouteSpec): FastifySchema {
  const response: Record<string, unknown> = {}
  const answer = spec.answer
  response[String(spec.status)] = isMediaAnswer(answer)
    ? { description: STATUS_TEXT[spec.status], content: { [answer.media]: { schema: answer.schema } } }
    : { ...answer, description: STATUS_TEXT[spec.status] }
  for (const status of [400, ...spec.errors, 500, 503].sort()) {
    response[String(status)] = { ...ErrorBodySchema, description: STATUS_TEXT[status] }
  }
  return {
    operationId: spec.operationId,
    summary: spec.summary,
    tags: [spec.tag],
    ...(spec.params ? { params: spec.params } : {}),
    ...(spec.querystring ? { querystring: spec.querystring } : {}),
    ...(spec.body ? { body: spec.body } : {}),
    response,
  } as FastifySchema
}

/** A route URL in Fastify's form as a pattern of concrete paths (`:network` is one segment). */
function pathPattern(url: string): RegExp {
  const body = url
    .split('/')
    .map((seg) => (seg.startsWith(':') ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/gu, '\\$&')))
    .join('/')
  return new RegExp(`^${body}/?$`, 'u')
}

const PATTERNS = Object.values(API).map((spec) => ({ pattern: pathPattern(spec.url), method: spec.method }))

/** The methods a concrete path has routes for (GET brings HEAD). */
export function allowedMethods(path: string): string[] {
  const methods: string[] = PATTERNS.filter((p) => p.pattern.test(path)).map((p) => p.method)
  if (methods.includes('GET')) methods.push('HEAD')
  return [...new Set(methods)]
}

/** Registers every route of the API with its schema and its handler. */
export function registerRoutes(app: FastifyInstance, handlers: RouteHandlers): void {
  for (const [operationId, route] of Object.entries(API) as [OperationId, (typeof API)[OperationId]][]) {
    const spec: RouteSpec = { operationId, ...route }
    const handler = handlers[operationId] as (input: RouteInput<unknown>) => Promise<unknown>
    app.route({
      method: spec.method,
      url: spec.url,
      schema: fastifySchema(spec),
      handler: async (req, reply) => {
        const value = await handler({
          params: req.params as never,
          query: req.query as never,
          body: req.body as never,
          req,
          reply,
        })
        if (reply.sent) return reply
        return reply.code(spec.status).send(value)
      },
    })
  }
}
