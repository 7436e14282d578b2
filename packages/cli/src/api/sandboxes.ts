import type { NetworkController } from '@cnm/controller'
import type { FastifyInstance } from 'fastify'
import { removeSandbox } from '../ops/sandbox.js'
import { findSandbox } from '../refs.js'
import { sandboxJSON } from '../views.js'
import { bodyOf, onlyKeys, requiredStr, str } from './body.js'

type SandboxParams = { Params: { sandbox: string } }

/** `/v1/sandboxes`: list, create, inspect, delete (with their endpoints). */
export function sandboxRoutes(app: FastifyInstance, controller: NetworkController): void {
  app.get('/v1/sandboxes', async () => controller.sandboxes().map(sandboxJSON))

  app.post('/v1/sandboxes', async (req, reply) => {
    const body = bodyOf(req.body)
    onlyKeys(body, ['containerID', 'key'])
    const [containerID, key] = [requiredStr(body, 'containerID'), str(body, 'key')]
    const sb = await controller.newSandbox(containerID, key === undefined ? {} : { key })
    return reply.code(201).send(sandboxJSON(sb))
  })

  app.get<SandboxParams>('/v1/sandboxes/:sandbox', async (req) =>
    sandboxJSON(findSandbox(controller, req.params.sandbox)),
  )

  app.delete<SandboxParams>('/v1/sandboxes/:sandbox', async (req, reply) => {
    await removeSandbox(controller, findSandbox(controller, req.params.sandbox))
    return reply.code(204).send()
  })
}
