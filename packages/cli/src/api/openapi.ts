import swagger from '@fastify/swagger'
import type { FastifyInstance } from 'fastify'
import { cliVersion } from '../version.js'

/** The document's fixed parts (the paths come from the routes' schemas). */
const INFO = {
  title: 'cnm daemon API',
  description:
    'The REST API of `cnm serve`, the cnm daemon: networks, endpoints, sandboxes, published ports and events. ' +
    'JSON in and out; every error is `{ "error": { "code", "kind", "message" } }`, its status from its kind. ' +
    'Served on a unix socket (default /run/cnm/cnm.sock) and optionally on TCP with mutual TLS.',
  license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
}

/**
 * Registers @fastify/swagger: an OpenAPI 3.1 document made from every route's TypeBox schemas.
 * Must run before the routes are added.
 */
export function registerOpenApi(app: FastifyInstance): void {
  void app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { ...INFO, version: cliVersion() },
      servers: [{ url: 'http://cnm', description: 'curl --unix-socket /run/cnm/cnm.sock http://cnm/…' }],
      tags: [
        { name: 'system', description: 'ping, version, info, the document, events, reconcile' },
        { name: 'networks' },
        { name: 'endpoints', description: 'endpoints, connect and disconnect' },
        { name: 'sandboxes' },
        { name: 'ports', description: 'published ports' },
      ],
    },
    hideUntagged: false,
  })
}

type Json = unknown

/**
 * Moves every titled object schema (`Network`, `Endpoint`, `Port`, `Error`, the bodies …) to
 * `components.schemas` and refers to it there: the routes' schemas are inline (TypeBox), which
 * would repeat `Endpoint` inside every `Network` and `Error` under every status.
 */
function componentize(doc: Record<string, unknown>): Record<string, unknown> {
  const components: Record<string, Json> = {}
  const walk = (node: Json): Json => {
    if (Array.isArray(node)) return node.map(walk)
    if (node === null || typeof node !== 'object') return node
    const obj = node as Record<string, Json>
    const out: Record<string, Json> = {}
    for (const [k, v] of Object.entries(obj)) out[k] = walk(v)
    const title = obj.title
    if (typeof title !== 'string' || obj.type !== 'object') return out
    const { description, ...schema } = out
    components[title] ??= schema
    return { $ref: `#/components/schemas/${title}`, ...(description === undefined ? {} : { description }) }
  }
  const paths = walk(doc.paths)
  const sorted = Object.fromEntries(Object.entries(components).sort(([a], [b]) => a.localeCompare(b)))
  return { ...doc, paths, components: { schemas: sorted } }
}

/** The OpenAPI 3.1 document of a ready server (as `GET /v1/openapi.json` answers it). */
export function openApiDocument(app: FastifyInstance): Record<string, unknown> {
  return componentize((app as unknown as { swagger(): Record<string, unknown> }).swagger())
}

/**
 * The OpenAPI 3.1 document of the API, made without a controller or a listener (what
 * `packages/cli/openapi.json` holds; `node scripts/write-openapi.mjs` writes it again).
 */
export async function buildOpenApiDocument(): Promise<Record<string, unknown>> {
  const { createApiServer } = await import('./server.js')
  const app = createApiServer({ controller: {} as never })
  try {
    await app.ready()
    return openApiDocument(app)
  } finally {
    await app.close()
  }
}
