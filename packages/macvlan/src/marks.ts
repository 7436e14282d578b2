/**
 * The link group (IFLA_GROUP) of every link cnm creates (the bridge driver's too). Unlike the
 * alias it is set in the very request that creates the link.
 */
export const CNM_LINK_GROUP = 0x636e6d // "cnm"

/** The owner of links made by a driver nobody named (a driver used without a store). */
export const DEFAULT_OWNER = '-'

/** `cnm:<owner>:network:<nid>`: the alias of a VLAN sub-interface a network created. */
export function networkAlias(owner: string, nid: string): string {
  return `cnm:${owner}:network:${nid}`
}

/** `cnm:<owner>:endpoint:<nid>:<eid>`: the alias of an endpoint's macvlan link. */
export function endpointAlias(owner: string, nid: string, eid: string): string {
  return `cnm:${owner}:endpoint:${nid}:${eid}`
}

/** What an alias says, if it is one of cnm's. */
export interface Mark {
  owner: string
  network: string
  endpoint?: string
}

/** Reads one of cnm's aliases; undefined for any other text. */
export function parseAlias(alias: string | undefined): Mark | undefined {
  const parts = alias?.split(':') ?? []
  if (parts[0] !== 'cnm' || !parts[1] || !parts[3]) return undefined
  if (parts[2] === 'network' && parts.length === 4) return { owner: parts[1], network: parts[3] }
  if (parts[2] === 'endpoint' && parts.length === 5 && parts[4]) {
    return { owner: parts[1], network: parts[3], endpoint: parts[4] }
  }
  return undefined
}
