import { CnmClientError, ERR_INVALID_HOST } from './errors.js'

/** Where the daemon listens by default. */
export const DEFAULT_HOST = 'unix:///run/cnm/cnm.sock'

/** A daemon address: a unix socket, or TCP (with TLS when the client has certificates). */
export type DaemonAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number }

function invalid(text: string): CnmClientError {
  return new CnmClientError(
    ERR_INVALID_HOST,
    'invalid',
    `invalid host ${JSON.stringify(text)}: expected unix:///path/to.sock, /path/to.sock or tcp://HOST:PORT`,
  )
}

/**
 * Parses a daemon address: `unix:///run/cnm/cnm.sock` (or the bare absolute path), or
 * `tcp://127.0.0.1:2376` (`tcp://[::1]:2376`).
 */
export function parseHost(text: string): DaemonAddress {
  if (text.startsWith('/')) return { kind: 'unix', path: text }
  if (text.startsWith('unix://')) {
    const path = text.slice('unix://'.length)
    if (!path.startsWith('/')) throw invalid(text)
    return { kind: 'unix', path }
  }
  const m = text.match(/^tcp:\/\/(?:\[([0-9A-Fa-f:.]+)\]|([^:/[\]]+)):(\d{1,5})\/?$/u)
  const port = Number(m?.[3])
  const host = m?.[1] ?? m?.[2]
  if (!m || host === undefined || !Number.isInteger(port) || port < 1 || port > 65535) throw invalid(text)
  return { kind: 'tcp', host, port }
}

/** The address as text (`unix:///…`, `tcp://…`). */
export function formatHost(address: DaemonAddress): string {
  if (address.kind === 'unix') return `unix://${address.path}`
  return `tcp://${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`
}
