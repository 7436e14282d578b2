/**
 * The aliases (IFLA_IFALIAS) the driver writes on what it creates, so that a later process can
 * tell cnm's bridges and veths from anyone else's without guessing from names.
 */
/**
 * The link group (IFLA_GROUP) of every link cnm creates. Unlike the alias it is set in the very
 * request that creates the link, so a crash can never leave an unmarked cnm link behind.
 */
export const CNM_LINK_GROUP = 0x636e6d // "cnm"

const NETWORK = 'cnm:network:'
const ENDPOINT = 'cnm:endpoint:'

export function networkAlias(nid: string): string {
  return `${NETWORK}${nid}`
}

export function endpointAlias(nid: string, eid: string): string {
  return `${ENDPOINT}${nid}:${eid}`
}

/** What an alias says, if it is one of cnm's. */
export function parseAlias(alias: string | undefined): { network: string; endpoint?: string } | undefined {
  if (alias?.startsWith(NETWORK)) return { network: alias.slice(NETWORK.length) }
  if (alias?.startsWith(ENDPOINT)) {
    const [network, endpoint] = alias.slice(ENDPOINT.length).split(':')
    if (network && endpoint) return { network, endpoint }
  }
  return undefined
}
