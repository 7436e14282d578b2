import { tryParseCIDR } from '@cnm/ip'
import { invalidArgument } from './errors.js'

/** A pool networks' subnets are carved from (`@cnm/bridge`'s `AddressPool`). */
export interface AddressPool {
  base: string
  size: number
}

/**
 * dockerd's `--default-address-pool base=10.10.0.0/16,size=24` (repeatable, in order): the pools a
 * network's subnet is elected from when none is given. `size` defaults to 24 for IPv4, 64 for IPv6,
 * and must lie between the base's prefix and the family's /30 (/126).
 */
export function parseAddressPoolFlags(texts: readonly string[]): AddressPool[] {
  return texts.map((text) => {
    const fields = new Map<string, string>()
    for (const part of text.split(',')) {
      const eq = part.indexOf('=')
      const key = part.slice(0, eq).trim()
      if (eq < 1 || (key !== 'base' && key !== 'size') || fields.has(key)) {
        throw invalidArgument(`--default-address-pool ${JSON.stringify(text)} must be base=CIDR[,size=N]`)
      }
      fields.set(key, part.slice(eq + 1).trim())
    }
    const base = tryParseCIDR(fields.get('base'))
    if (!base) throw invalidArgument(`--default-address-pool ${JSON.stringify(text)}: base is not a CIDR`)
    const max = base.family === 4 ? 30 : 126
    const sizeText = fields.get('size') ?? (base.family === 4 ? '24' : '64')
    const size = /^\d+$/u.test(sizeText) ? Number(sizeText) : Number.NaN
    if (!Number.isInteger(size) || size < base.prefixLength || size > max) {
      throw invalidArgument(
        `--default-address-pool ${JSON.stringify(text)}: size must be from ${base.prefixLength} to ${max}`,
      )
    }
    return { base: base.cidr, size }
  })
}
