import type { NetworkController } from '@cnm/controller'
import { DEFAULT_CNI_DIR } from './attachment.js'
import { createCniContext } from './context.js'
import { CNI_ERROR, CniError, cniErrorBody, ERR_CNI_DECODE } from './errors.js'
import { type CniAnswer, type CniRequest, handleCni } from './handle.js'
import { CURRENT_VERSION } from './netconf.js'

/** What the daemon mounts as `POST /v1/cni`: one invocation forwarded by the executable. */
export interface CniService {
  /** The body `{ env: { CNI_…: string }, stdin: string }`; answered with the executable's output and exit code. */
  handle(body: unknown): Promise<CniAnswer>
}

/** The CNI fast path of a daemon, on its controller (attachments bound under `cniDir`, default `/run/cnm/cni`). */
export function createCniService(controller: NetworkController, options: { cniDir?: string } = {}): CniService {
  const ctx = createCniContext(controller, options.cniDir ?? DEFAULT_CNI_DIR)
  return {
    handle(body) {
      const req = parseBody(body)
      if (!req) {
        const err = new CniError(
          ERR_CNI_DECODE,
          'invalid',
          CNI_ERROR.DECODE_FAILURE,
          'POST /v1/cni takes { env: { CNI_*: string }, stdin: string }',
        )
        return Promise.resolve({ exitCode: 1, stdout: `${JSON.stringify(cniErrorBody(err, CURRENT_VERSION))}\n` })
      }
      return handleCni(req, (fn) => fn(ctx))
    },
  }
}

function parseBody(body: unknown): CniRequest | undefined {
  if (typeof body !== 'object' || body === null) return undefined
  const { env, stdin } = body as { env?: unknown; stdin?: unknown }
  if (typeof stdin !== 'string' || typeof env !== 'object' || env === null || Array.isArray(env)) return undefined
  const vars: Record<string, string> = {}
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith('CNI_') || typeof v !== 'string') return undefined
    vars[k] = v
  }
  return { env: vars, stdin }
}
