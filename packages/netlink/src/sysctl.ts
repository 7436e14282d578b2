import { readFileSync, writeFileSync } from 'node:fs'
import type { HandleContext } from './context.js'
import { ERR_INVALID_SYSCTL, kernelError, NetlinkError } from './errors.js'
import { withNetnsFdSync } from './namespace.js'

/** `net/ipv4/ip_forward` or `net.ipv4.ip_forward` → `/proc/sys/net/ipv4/ip_forward`, validated. */
export function sysctlPath(key: string): string {
  const parts = key.includes('/') ? key.split('/') : key.split('.')
  const ok =
    parts.length >= 2 &&
    parts[0] === 'net' &&
    parts.every((p) => /^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}$/u.test(p) && p !== '..')
  if (!ok)
    throw new NetlinkError(
      ERR_INVALID_SYSCTL,
      `invalid sysctl ${JSON.stringify(key)}: expected net/… (slash form for names with dots)`,
    )
  return `/proc/sys/${parts.join('/')}`
}

/**
 * Writes a `net.*` sysctl in the handle's namespace. Synchronous on purpose: /proc/sys/net answers
 * for the namespace of the thread that opens it, so the main thread is switched into the handle's
 * namespace for the write and back.
 */
export function writeSysctl(ctx: HandleContext, key: string, value: string): void {
  const path = sysctlPath(key)
  withNetnsFdSync(ctx.nsFd, () => {
    try {
      writeFileSync(path, value)
    } catch (cause) {
      throw kernelError(Math.abs((cause as NodeJS.ErrnoException).errno ?? 5), `write sysctl ${key}=${value}`, cause)
    }
  })
}

/** Reads a `net.*` sysctl in the handle's namespace (trimmed). */
export function readSysctl(ctx: HandleContext, key: string): string {
  const path = sysctlPath(key)
  return withNetnsFdSync(ctx.nsFd, () => {
    try {
      return readFileSync(path, 'utf8').trim()
    } catch (cause) {
      throw kernelError(Math.abs((cause as NodeJS.ErrnoException).errno ?? 5), `read sysctl ${key}`, cause)
    }
  })
}
