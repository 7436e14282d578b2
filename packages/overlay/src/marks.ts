/**
 * The link group (IFLA_GROUP) of every link the overlay driver creates, set in the creating request.
 * It differs from the bridge and macvlan drivers' group on purpose: their stray sweeps remove any
 * link of their group that their records do not name, and must never take an overlay's devices.
 */
export const OVERLAY_LINK_GROUP = 0x636e6f // "cno"

/** The owner of links made by a driver nobody named (a driver used without a store). */
export const DEFAULT_OWNER = '-'

/** `cnm:<owner>:overlay:<nid>`: the alias of a network's bridge and VXLAN device on this host. */
export function networkAlias(owner: string, nid: string): string {
  return `cnm:${owner}:overlay:${nid}`
}

/** `cnm:<owner>:overlay:<nid>:<eid>`: the alias of an endpoint's host-side veth. */
export function endpointAlias(owner: string, nid: string, eid: string): string {
  return `cnm:${owner}:overlay:${nid}:${eid}`
}

/** What an overlay alias says. */
export interface Mark {
  owner: string
  network: string
  endpoint?: string
}

/** Reads an overlay alias; undefined for any other text (the other drivers' marks included). */
export function parseAlias(alias: string | undefined): Mark | undefined {
  const parts = alias?.split(':') ?? []
  if (parts[0] !== 'cnm' || parts[2] !== 'overlay' || !parts[1] || !parts[3]) return undefined
  if (parts.length === 4) return { owner: parts[1], network: parts[3] }
  if (parts.length === 5 && parts[4]) return { owner: parts[1], network: parts[3], endpoint: parts[4] }
  return undefined
}
