/** The bridge driver's name. */
export const BRIDGE_DRIVER_NAME = 'bridge'
/** The seed's name for the same driver, still accepted. */
export const BRIDGE_DRIVER_ALIASES: readonly string[] = ['simplebridge']

/** True for `bridge` and its aliases. */
export function isBridgeDriverName(name: string): boolean {
  return name === BRIDGE_DRIVER_NAME || BRIDGE_DRIVER_ALIASES.includes(name)
}

/**
 * The default bridge name for a network id: `br-` and the id's first 12 characters, which fits
 * the kernel's 15-byte limit.
 */
export function defaultBridgeName(networkId: string): string {
  if (!/^[0-9a-f]{12,}$/u.test(networkId)) throw new TypeError(`network id ${JSON.stringify(networkId)} is not hex`)
  return `br-${networkId.slice(0, 12)}`
}
