import { readFileSync, writeFileSync } from 'node:fs'
import { FirewallError } from './errors.js'

function path(bridge: string): string {
  return `/proc/sys/net/ipv4/conf/${bridge}/route_localnet`
}

function fail(what: string, cause: unknown): FirewallError {
  const code = (cause as NodeJS.ErrnoException).code ?? 'EIO'
  const hint = code === 'ENOENT' ? ' (no such interface in this network namespace)' : ''
  return new FirewallError(code, `${what}: ${code}${hint}`, { cause })
}

/**
 * Reads `net.ipv4.conf.<bridge>.route_localnet` (undefined when the interface is gone). Synchronous
 * on purpose: /proc/sys/net answers for the namespace of the calling thread, and an async read
 * would run on a libuv pool thread, which may live in another namespace.
 */
export function readRouteLocalnet(bridge: string): string | undefined {
  try {
    return readFileSync(path(bridge), 'utf8').trim()
  } catch {
    return undefined
  }
}

/**
 * Sets `net.ipv4.conf.<bridge>.route_localnet`, which lets 127.0.0.1 → published port be routed to
 * the bridge (synchronously, for the reason given on {@link readRouteLocalnet}). With `missingOk`, a
 * missing interface is not an error (teardown after the bridge is gone).
 */
export function writeRouteLocalnet(bridge: string, on: boolean, missingOk = false): void {
  try {
    writeFileSync(path(bridge), on ? '1' : '0')
  } catch (cause) {
    if (missingOk && (cause as NodeJS.ErrnoException).code === 'ENOENT') return
    throw fail(`set route_localnet=${on ? 1 : 0} on bridge ${bridge}`, cause)
  }
}
