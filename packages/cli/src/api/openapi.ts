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

/** The OpenAPI 3.1 document of a ready server (as `GET /v1/openapi.json` answers it). */
export function openApiDocument(app: FastifyInstance): Record<string, unknown> {
  return (app as unknown as { swagger(): Record<string, unknown> }).swagger()
}
