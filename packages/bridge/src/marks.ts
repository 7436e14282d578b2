/**
 * The link group (IFLA_GROUP) of every link cnm creates. Unlike the alias it is set in the very
 * request that creates the link, so a crash can never leave an unmarked cnm link behind.
 */
export const CNM_LINK_GROUP = 0x636e6d // "cnm"

/** The owner of links made by a driver nobody named (a driver used without a store). */
export const DEFAULT_OWNER = '-'

/**
 * The aliases (IFLA_IFALIAS) the driver writes on what it creates — `cnm:<owner>:network:<nid>`,
 * `cnm:<owner>:endpoint:<nid>:<eid>` — so that a later process can tell its own bridges and veths
 * from another store's, and from anyone else's, without guessing from names.
 */
export function networkAlias(owner: string, nid: string): string {
  return `cnm:${owner}:network:${nid}`
}

export function endpointAlias(owner: string, nid: string, eid: string): string {
  return `cnm:${owner}:endpoint:${nid}:${eid}`
}

/** What an alias says, if it is one of cnm's. */
export function parseAlias(
  alias: string | undefined,
): { owner: string; network: string; endpoint?: string } | undefined {
  const parts = alias?.split(':') ?? []
  if (parts[0] !== 'cnm' || !parts[1] || !parts[3]) return undefined
  if (parts[2] === 'network' && parts.length === 4) return { owner: parts[1], network: parts[3] }
  if (parts[2] === 'endpoint' && parts.length === 5 && parts[4]) {
    return { owner: parts[1], network: parts[3], endpoint: parts[4] }
  }
  return undefined
}
