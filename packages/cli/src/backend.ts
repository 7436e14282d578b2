import { readFileSync } from 'node:fs'
import { type CnmApi, type CnmClient, createClient, type TlsOptions } from '@cnm/client'
import type { Command } from 'commander'
import { type GlobalOptions, globalOptions } from './context.js'
import { CliError, invalidArgument } from './errors.js'
import { ERR_DAEMON_UNREACHABLE, ERR_PERMISSION_DENIED } from './service/codes.js'

/** Where a command did its work. */
export type Mode =
  | { kind: 'daemon'; host: string }
  | { kind: 'in-process'; host: string; why: 'no daemon' | 'store given' }

/** Runs a command's work on the daemon, or in process; see {@link withApi}. */
export type ApiWork<T> = (api: CnmApi, mode: Mode) => Promise<T>

function tlsOptions(g: GlobalOptions): TlsOptions | undefined {
  const files = [g.tlscacert, g.tlscert, g.tlskey]
  if (files.every((f) => f === undefined)) return undefined
  if (files.some((f) => f === undefined)) throw invalidArgument('--tlscacert, --tlscert and --tlskey go together')
  const read = (file: string, flag: string): Buffer => {
    try {
      return readFileSync(file)
    } catch (err) {
      throw invalidArgument(`${flag} ${file}: ${(err as Error).message}`)
    }
  }
  return {
    ca: read(g.tlscacert as string, '--tlscacert'),
    cert: read(g.tlscert as string, '--tlscert'),
    key: read(g.tlskey as string, '--tlskey'),
  }
}

/** The one line a user without root gets, whatever the command. */
export function rootNeeded(host: string): CliError {
  return new CliError(
    ERR_PERMISSION_DENIED,
    `root is needed: run cnm as root, or start the daemon (cnm serve) and join its socket's group cnm (no daemon answers at ${host})`,
    { kind: 'unavailable' },
  )
}

/** Whether a failure means the request never reached a daemon (nothing listens on the socket). */
function neverReached(err: unknown): boolean {
  if ((err as { code?: unknown })?.code !== ERR_DAEMON_UNREACHABLE) return false
  const cause = (err as { cause?: { code?: unknown } }).cause?.code
  return cause === 'ENOENT' || cause === 'ECONNREFUSED'
}

/** The client, recording whether the daemon ever answered (after that, never fall back). */
function tracked(client: CnmClient): { api: CnmClient; answered: () => boolean } {
  let answered = false
  const api = new Proxy(client, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver)
      if (typeof value !== 'function' || prop === 'events') return value
      return async (...args: unknown[]) => {
        const out = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args)
        answered = true
        return out
      }
    },
  })
  return { api, answered: () => answered }
}

/** Opens a client of the daemon at `-H` (nothing is sent yet). */
export async function openClient(g: GlobalOptions): Promise<CnmClient> {
  const tls = tlsOptions(g)
  return createClient({ host: g.host, ...(tls ? { tls } : {}) })
}

/** Runs `work` in process, on the store (as root only). */
export async function inProcess<T>(g: GlobalOptions, work: ApiWork<T>, why: 'no daemon' | 'store given'): Promise<T> {
  if (process.geteuid?.() !== 0) throw rootNeeded(g.host)
  const { withLocalApi } = await import('./local-api.js')
  try {
    return await withLocalApi(g, (api) => work(api, { kind: 'in-process', host: g.host, why }))
  } catch (err) {
    // A daemon holds the store (its lock names it): the work goes through that daemon, never
    // behind its back. Nothing of the work ran (the store was refused before it was opened).
    const socket = (err as { code?: unknown; holder?: { socket?: unknown } }).holder?.socket
    if ((err as { code?: unknown }).code !== 'ERR_STORE_LOCKED' || typeof socket !== 'string') throw err
    const client = createClient({ host: `unix://${socket}` })
    try {
      return await work(client, { kind: 'daemon', host: client.host })
    } finally {
      client.close()
    }
  }
}

/**
 * Runs a command's work through the daemon at `-H`/`$CNM_HOST` when one answers there; with
 * nothing listening on its unix socket, in process on the store (as before the daemon). `--store`
 * or `--sandbox-dir` (flag or environment) always means in process. The client path loads
 * `@cnm/client` alone: no controller, netlink, firewall or SQLite.
 */
export async function withApi<T>(cmd: Command, work: ApiWork<T>): Promise<T> {
  const g = globalOptions(cmd)
  if (g.local) return inProcess(g, work, 'store given')
  const client = await openClient(g)
  const { api, answered } = tracked(client)
  try {
    return await work(api, { kind: 'daemon', host: client.host })
  } catch (err) {
    if (client.address.kind === 'unix' && !answered() && neverReached(err)) return inProcess(g, work, 'no daemon')
    throw err
  } finally {
    client.close()
  }
}
