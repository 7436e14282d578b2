import { containsAddress, type IPPrefix, tryParseAddress, tryParseCIDR } from '@cnm/ip'
import { parsePoolId } from './ipam.js'
import { isDockerId, isIfacePrefix } from './names.js'
import type { ReservationChange } from './reservation-journal.js'
import type { IpamReservations, NetworkExtras, PluginState } from './state-file.js'

/**
 * An entry of the plugin's state (or of a journal line) that is not what cnm writes; `entry` names
 * it the way it is reached in the file (`networks["9f…"].aux["10.77.0.0/24"][2]`).
 */
export class BadStateEntry extends Error {
  readonly entry: string
  constructor(entry: string, what: string) {
    super(`${entry} ${what}`)
    this.name = 'BadStateEntry'
    this.entry = entry
  }
}

const show = (v: unknown): string => JSON.stringify(v) ?? String(v)

function object(entry: string, raw: unknown, fields: readonly string[]): Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new BadStateEntry(entry, `is ${show(raw)}, not an object`)
  }
  const o = raw as Record<string, unknown>
  if (fields.length > 0) {
    for (const key of Object.keys(o)) {
      if (!fields.includes(key)) throw new BadStateEntry(`${entry}.${key}`, 'is not a field cnm writes')
    }
  }
  return o
}

/** A subnet as cnm writes it: a CIDR without host bits (`10.77.0.0/24`, `fd00::/64`). */
function subnetOf(entry: string, raw: string): IPPrefix {
  const p = tryParseCIDR(raw)
  if (p === undefined || p.address !== p.network) {
    throw new BadStateEntry(entry, 'is not a subnet (a CIDR without host bits)')
  }
  return p
}

/** A list of addresses inside `subnet`, in @cnm/ip's canonical text, each once. */
function addressesIn(entry: string, raw: unknown, subnet: IPPrefix): string[] {
  if (!Array.isArray(raw)) throw new BadStateEntry(entry, `is ${show(raw)}, not a list of addresses`)
  const out = new Set<string>()
  raw.forEach((v, i) => {
    const a = tryParseAddress(v)
    if (a === undefined || !containsAddress(subnet, a)) {
      throw new BadStateEntry(`${entry}[${i}]`, `${show(v)} is not an address in ${subnet.cidr}`)
    }
    out.add(a.text)
  })
  return [...out]
}

/** A map from a subnet to addresses inside it (two spellings of one subnet are merged). */
function addressesBySubnet(entry: string, raw: unknown): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  for (const [key, list] of Object.entries(object(entry, raw, []))) {
    const where = `${entry}[${show(key)}]`
    const subnet = subnetOf(where, key)
    const addresses = addressesIn(where, list, subnet)
    out[subnet.cidr] = [...new Set([...(out[subnet.cidr] ?? []), ...addresses])]
  }
  return out
}

/**
 * One network's extras: an object with at most `hostBindingIPv4` (an IPv4 address), `aux` (a map
 * from a subnet to addresses inside it), every address in canonical text, and `ifacePrefix` (a
 * container interface name prefix).
 */
export function parseNetworkExtras(entry: string, raw: unknown): NetworkExtras {
  const o = object(entry, raw, ['hostBindingIPv4', 'aux', 'ifacePrefix'])
  const extras: NetworkExtras = {}
  if (o.hostBindingIPv4 !== undefined) {
    const a = tryParseAddress(o.hostBindingIPv4)
    if (a?.family !== 4) {
      throw new BadStateEntry(`${entry}.hostBindingIPv4`, `${show(o.hostBindingIPv4)} is not an IPv4 address`)
    }
    extras.hostBindingIPv4 = a.text
  }
  if (o.aux !== undefined) extras.aux = addressesBySubnet(`${entry}.aux`, o.aux)
  if (o.ifacePrefix !== undefined) {
    if (!isIfacePrefix(o.ifacePrefix)) {
      throw new BadStateEntry(`${entry}.ifacePrefix`, `${show(o.ifacePrefix)} is not an interface name prefix`)
    }
    extras.ifacePrefix = o.ifacePrefix
  }
  return extras
}

/** The IPAM reservations: pool ids of cnm's IPAM, and addresses by subnet (none when absent). */
export function parseReservations(raw: unknown): IpamReservations {
  if (raw === undefined) return { pools: [], addresses: {} }
  const o = object('ipam', raw, ['pools', 'addresses'])
  if (!Array.isArray(o.pools)) throw new BadStateEntry('ipam.pools', `is ${show(o.pools)}, not a list of pool ids`)
  const pools = new Set<string>()
  o.pools.forEach((id, i) => {
    pools.add(poolId(`ipam.pools[${i}]`, id))
  })
  return { pools: [...pools], addresses: addressesBySubnet('ipam.addresses', o.addresses) }
}

function poolId(entry: string, raw: unknown): string {
  try {
    return parsePoolId(raw).id
  } catch {
    throw new BadStateEntry(entry, `${show(raw)} is not a pool id of cnm's IPAM`)
  }
}

/**
 * The whole state as the file holds it: `networks` (by Docker network id, each entry's extras)
 * and `ipam`; anything else, or any entry that is not what cnm writes, throws a
 * {@link BadStateEntry} naming it.
 */
export function parsePluginState(raw: unknown): PluginState {
  const top = object('the state', raw, ['networks', 'ipam'])
  const networks: Record<string, NetworkExtras> = {}
  for (const [id, extras] of Object.entries(object('networks', top.networks, []))) {
    const entry = `networks[${show(id)}]`
    if (!isDockerId(id)) throw new BadStateEntry(entry, 'is not keyed by a Docker network id')
    networks[id] = parseNetworkExtras(entry, extras)
  }
  return { networks, ipam: parseReservations(top.ipam) }
}

/** One journal line's change: `["+p"|"-p", pool id]` or `["+a"|"-a", subnet, address in it]`. */
export function parseReservationChange(raw: unknown): ReservationChange {
  if (!Array.isArray(raw)) throw new BadStateEntry('the change', `${show(raw)} is not a list`)
  const [op, key, address] = raw as unknown[]
  if ((op === '+p' || op === '-p') && raw.length === 2) return [op, poolId('its pool', key)]
  if ((op === '+a' || op === '-a') && raw.length === 3) {
    if (typeof key !== 'string') throw new BadStateEntry('its subnet', `${show(key)} is not a subnet`)
    const subnet = subnetOf(`its subnet ${show(key)}`, key)
    const a = tryParseAddress(address)
    if (a === undefined || !containsAddress(subnet, a)) {
      throw new BadStateEntry('its address', `${show(address)} is not an address in ${subnet.cidr}`)
    }
    return [op, subnet.cidr, a.text]
  }
  throw new BadStateEntry('the change', `${show(raw)} is not a reservation change`)
}
