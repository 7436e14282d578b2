import { InvalidConfigError } from '@cnm/driverapi'

const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\])$/u

/**
 * Parses a cluster-store URL (`etcd://h1:2379,h2:2379,h3:2379`; the port defaults to 2379) into
 * the client URLs of its members (`http://h1:2379`). Refuses anything else with
 * `ERR_INVALID_CONFIG` before a connection is tried.
 */
export function parseStoreUrl(url: string): string[] {
  const m = url.match(/^etcd:\/\/([^/?#]+)\/?$/u)
  if (!m?.[1])
    throw new InvalidConfigError(`cluster store ${JSON.stringify(url)}: expected etcd://host[:port][,host[:port]…]`)
  const out: string[] = []
  for (const part of m[1].split(',')) {
    const hp = part.match(/^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/u)
    const host = hp?.[1]
    const port = Number(hp?.[2] ?? '2379')
    if (!host || !HOST.test(host) || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new InvalidConfigError(`cluster store ${JSON.stringify(url)}: bad member ${JSON.stringify(part)}`)
    }
    out.push(`http://${host}:${port}`)
  }
  return out
}

/** A host name in the cluster: `[A-Za-z0-9_.-]`, 1–63 characters (it is a key segment). */
export function checkHostName(host: string): string {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/u.test(host)) {
    throw new InvalidConfigError(`cluster host name ${JSON.stringify(host)}: use 1-63 of [A-Za-z0-9_.-]`)
  }
  return host
}
