import type { Handle } from '@cnm/netlink'

/**
 * Whether the handle's namespace tracks no connection at all (`net.netfilter.nf_conntrack_count`
 * counts the namespace's own entries). A flush then has nothing to delete, and skips its two dumps:
 * the conntrack dump, which walks the kernel's whole conntrack hash table, shared by every namespace
 * (262,144 buckets here: 3–14 ms per connect or disconnect, however few entries there are), and the
 * address dump that finds a wildcard port's local addresses (one address or more per link: it grows
 * with every veth on the host). An entry made after this read was made with the rules as they are
 * now, as one made after a dump would be. Unknown (no conntrack here): false, and the flush runs.
 */
export function conntrackEmpty(host: Pick<Handle, 'readSysctl'>): boolean {
  try {
    return host.readSysctl('net/netfilter/nf_conntrack_count') === '0'
  } catch {
    return false
  }
}
