import { existsSync, readFileSync } from 'node:fs'
import { release } from 'node:os'
import type { PortProtocol } from './port-mapping.js'

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return ''
  }
}

/**
 * Whether this kernel can carry SCTP: the protocol is registered (`/proc/net/protocols`,
 * `/proc/sys/net/sctp`), or it is a module the kernel can load on demand. Read synchronously.
 */
export function kernelHasSctp(): boolean {
  if (existsSync('/proc/sys/net/sctp')) return true
  if (/^SCTP/mu.test(readText('/proc/net/protocols'))) return true
  const modules = `/lib/modules/${release()}`
  return /(^|\/)sctp\.ko/mu.test(readText(`${modules}/modules.dep`) + readText(`${modules}/modules.builtin`))
}

/** The protocols whose ports this kernel can publish. */
export function kernelProtocols(): PortProtocol[] {
  return kernelHasSctp() ? ['tcp', 'udp', 'sctp'] : ['tcp', 'udp']
}
