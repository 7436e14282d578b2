import type { CniContext } from './context.js'
import { parseCniEnv } from './env.js'
import { cniErrorBody } from './errors.js'
import { CURRENT_VERSION, decodeNetConf, parseNetConf, SUPPORTED_VERSIONS } from './netconf.js'
import { cniAdd } from './ops/add.js'
import { cniCheck } from './ops/check.js'
import { cniDel } from './ops/del.js'
import { cniGc } from './ops/gc.js'
import { cniStatus } from './ops/status.js'

/** One invocation as a runtime makes it: the environment and the configuration on stdin. */
export interface CniRequest {
  env: Readonly<Record<string, string | undefined>>
  stdin: string
}

/** What the executable prints on stdout, and its exit code (0, or 1 with an error JSON). */
export interface CniAnswer {
  exitCode: 0 | 1
  stdout: string
}

/** Runs `fn` with a CNI context (the daemon's, or a controller opened for this one call). */
export type WithContext = <T>(fn: (ctx: CniContext) => Promise<T>) => Promise<T>

/** The configuration's version as far as it can be read, for an error's `cniVersion`. */
function versionOf(stdin: string): string {
  try {
    const v = (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion
    if (typeof v === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(v)) return v
  } catch {}
  return CURRENT_VERSION
}

const json = (value: unknown): CniAnswer => ({ exitCode: 0, stdout: `${JSON.stringify(value)}\n` })
const nothing: CniAnswer = { exitCode: 0, stdout: '' }

/**
 * One CNI invocation: everything is parsed and checked before anything changes, then the verb runs.
 * Any failure is answered as the spec's error JSON (exit 1), with cnm's code in `details`.
 */
export async function handleCni(req: CniRequest, withContext: WithContext): Promise<CniAnswer> {
  try {
    const env = parseCniEnv(req.env)
    if (env.command === 'VERSION') {
      return json({ cniVersion: versionOf(req.stdin), supportedVersions: [...SUPPORTED_VERSIONS] })
    }
    const conf = parseNetConf(decodeNetConf(req.stdin))
    switch (env.command) {
      case 'ADD':
        return json(await withContext((ctx) => cniAdd(ctx, env, conf)))
      case 'DEL':
        await withContext((ctx) => cniDel(ctx, env, conf))
        return nothing
      case 'CHECK':
        await withContext((ctx) => cniCheck(ctx, env, conf))
        return nothing
      case 'STATUS':
        await withContext((ctx) => cniStatus(ctx, conf))
        return nothing
      case 'GC':
        await withContext((ctx) => cniGc(ctx, conf))
        return nothing
    }
  } catch (err) {
    return { exitCode: 1, stdout: `${JSON.stringify(cniErrorBody(err, versionOf(req.stdin)))}\n` }
  }
}
