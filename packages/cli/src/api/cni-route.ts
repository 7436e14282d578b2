import { createCniService } from '@cnm/cni'
import type { NetworkController } from '@cnm/controller'
import type { FastifyInstance } from 'fastify'

/**
 * `POST /v1/cni`: the CNI fast path. The `cnm` CNI executable (a small native forwarder) sends one
 * invocation — `{ env: { CNI_*: … }, stdin }` — and prints the answer: the body is exactly what the
 * plugin prints on stdout, `cni-exit-code` its exit code (0, or 1 with the spec's error JSON). An
 * internal transport of the executable, not part of the documented REST API (hidden from OpenAPI).
 * Attachments' namespaces are bound under `$CNM_CNI_DIR` (default `/run/cnm/cni`).
 */
export function registerCniRoute(app: FastifyInstance, controller: NetworkController): void {
  const service = createCniService(controller, { cniDir: process.env.CNM_CNI_DIR || undefined })
  app.post('/v1/cni', { schema: { hide: true } as object }, async (req, reply) => {
    const answer = await service.handle(req.body)
    return reply
      .code(200)
      .header('cni-exit-code', String(answer.exitCode))
      .header('content-type', 'text/plain; charset=utf-8')
      .send(answer.stdout)
  })
}
