import { request } from 'node:http'
import type { CniAnswer, CniRequest } from './handle.js'

/** The daemon's socket: `CNM_HOST` when it names a unix socket, else the default (conmon's DEL has no CNM_* variables). */
export function daemonSocket(env: Readonly<Record<string, string | undefined>>): string {
  const host = env.CNM_HOST
  return host?.startsWith('unix://') ? host.slice('unix://'.length) : '/run/cnm/cnm.sock'
}

/** The CNI_* part of an environment: all the daemon is told. */
export function cniVariables(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => e[0].startsWith('CNI_') && e[1] !== undefined),
  )
}

/**
 * Sends the invocation to the daemon (`POST /v1/cni`); undefined when no daemon answers it (no
 * socket, refused, or an answer without `cni-exit-code`): the caller then works in process.
 */
export function askDaemon(socketPath: string, req: CniRequest): Promise<CniAnswer | undefined> {
  const body = JSON.stringify({ env: cniVariables(req.env), stdin: req.stdin })
  return new Promise((resolve) => {
    const r = request(
      {
        socketPath,
        method: 'POST',
        path: '/v1/cni',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (d: Buffer) => chunks.push(d))
        res.on('error', () => resolve(undefined))
        res.on('end', () => {
          const code = res.headers['cni-exit-code']
          if (res.statusCode !== 200 || typeof code !== 'string') return resolve(undefined)
          resolve({ exitCode: code === '0' ? 0 : 1, stdout: Buffer.concat(chunks).toString('utf8') })
        })
      },
    )
    r.on('error', () => resolve(undefined))
    r.end(body)
  })
}
