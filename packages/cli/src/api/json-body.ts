import type { FastifyInstance } from 'fastify'

/**
 * Bodies are JSON only (anything else is 415), as Fastify parses it (prototype poisoning refused),
 * except that an empty body is no body: curl users send `content-type: application/json` with a
 * DELETE that has none.
 */
export function acceptEmptyJsonBodies(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error')
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (typeof body === 'string' && body.trim() === '') return done(null, undefined)
    parse(req, body as string, done)
  })
}
