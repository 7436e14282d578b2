import type { Interface } from '@cnm/driverapi'
import { parseMac, parsePrefixedAddress, validateInterfaceName } from '@cnm/netlink'
import { ERR_INVALID_INTERFACE, SandboxError } from './errors.js'

/**
 * Validates an interface before anything changes: names, CIDR addresses of the right family,
 * MAC and MTU. Returns a copy.
 */
export function parseInterface(i: Interface): Interface {
  const fail = (why: string, cause?: unknown): never => {
    throw new SandboxError(ERR_INVALID_INTERFACE, `invalid interface ${JSON.stringify(i?.dstName)}: ${why}`, { cause })
  }
  if (typeof i !== 'object' || i === null) return fail('not an object')
  try {
    validateInterfaceName(i.srcName)
    validateInterfaceName(i.dstName)
    if (i.macAddress !== undefined) parseMac(i.macAddress)
  } catch (cause) {
    return fail((cause as Error).message, cause)
  }
  if (i.address !== undefined) {
    const p = safeParse(i.address, fail)
    if (p.family !== 2) fail(`address ${i.address} is not IPv4`)
  }
  if (i.addressIPv6 !== undefined) {
    const p = safeParse(i.addressIPv6, fail)
    if (p.family !== 10) fail(`addressIPv6 ${i.addressIPv6} is not IPv6`)
  }
  if (i.mtu !== undefined && (!Number.isInteger(i.mtu) || i.mtu < 68 || i.mtu > 65535))
    fail(`MTU ${i.mtu} out of range 68–65535`)
  return { ...i }
}

function safeParse(
  cidr: string,
  fail: (why: string, cause?: unknown) => never,
): ReturnType<typeof parsePrefixedAddress> {
  try {
    return parsePrefixedAddress(cidr)
  } catch (cause) {
    return fail(`address ${JSON.stringify(cidr)} is not a CIDR`, cause)
  }
}
