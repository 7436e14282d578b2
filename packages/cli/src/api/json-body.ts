import type { FastifyInstance } from 'fastify'

/**
 * JSON bodies as Fastify parses them (prototype poisoning refused), except that an empty body is
 * no body: curl users send `content-type: application/json` with a DELETE that has none.
 */
export function acceptEmptyJsonBodies(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (typeof body === 'string' && body.trim() === '') return done(null, undefined)
    parse(req, body as string, done)
  })
}
