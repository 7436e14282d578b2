import type { PortBinding } from '@cnm/driverapi'
import { type IPFamily, tryParseAddress } from '@cnm/ip'
import { invalidArgument } from './errors.js'
import { parsePublishSpec } from './publish-spec.js'

/** What `cnm endpoint create` / `cnm connect` (and their REST routes) accept, before mapping. */
export interface EndpointFlags {
  /** `--publish` specs, Docker's `-p` syntax. */
  publish?: string[]
  /** Bindings already in the driver's form (the REST API's `portBindings`). */
  portBindings?: PortBinding[]
  /** Preferred IPv4 address. */
  ip?: string
  /** Preferred IPv6 address. */
  ip6?: string
  macAddress?: string
}

function address(text: string, family: IPFamily, what: string): string {
  const ip = tryParseAddress(text)
  if (!ip || ip.family !== family)
    throw invalidArgument(`${what} ${JSON.stringify(text)} is not an IPv${family} address`)
  return ip.text
}

/** Maps the flags to the bridge driver's endpoint options; everything is checked here first. */
export function endpointOptions(flags: EndpointFlags): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  const bindings = [...(flags.publish ?? []).map(parsePublishSpec), ...(flags.portBindings ?? [])]
  if (bindings.length > 0) out.portBindings = bindings
  if (flags.ip !== undefined) out.ipv4Address = address(flags.ip, 4, '--ip')
  if (flags.ip6 !== undefined) out.ipv6Address = address(flags.ip6, 6, '--ip6')
  if (flags.macAddress !== undefined) {
    if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/iu.test(flags.macAddress)) {
      throw invalidArgument(
        `--mac-address ${JSON.stringify(flags.macAddress)} is not a MAC address (02:42:ac:11:00:02)`,
      )
    }
    out.macAddress = flags.macAddress.toLowerCase()
  }
  return out
}
