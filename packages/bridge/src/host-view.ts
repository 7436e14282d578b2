import type { Handle, Link, LinkAddress } from '@cnm/netlink'

/** The host handle, able to answer link and address reads from one dump during a batch. */
export interface HostView extends Handle {
  /** From now on, reads of links and addresses may come from one dump each (taken at the first need). */
  beginBatch(): void
  /** Forgets the dumps: every read goes to the kernel again. */
  endBatch(): void
}

/** What one batch has seen: links by name, addresses by link index; names changed since are asked again. */
interface Seen {
  links: Map<string, Link> | undefined
  /** The whole link list, while nothing changed since it was dumped. */
  list: Link[] | undefined
  addresses: Map<number, LinkAddress[]> | undefined
  /** Links this process changed since the dump: their next read goes to the kernel. */
  staleLinks: Set<string>
  /** Links whose addresses this process changed since the dump. */
  staleAddresses: Set<string>
  /** Host-wide sysctls read in this batch ({@link BATCH_SYSCTLS}; one written through the view is read again): read once, not per network. */
  sysctls: Map<string, string>
}

/** The sysctls a batch reads once: host-wide switches that only cnm's own writes change during it. */
const BATCH_SYSCTLS = new Set(['net/ipv4/ip_forward', 'net/ipv6/conf/all/forwarding'])

/**
 * Wraps the driver's host handle so a batch of restores and liveness checks (start-up, a sync, a
 * reconcile: thousands of endpoints) costs one link dump and one address dump instead of one netlink
 * request (or a whole address dump, which the kernel does not filter here) per object. Outside a
 * batch every call goes straight to the kernel. Inside one the view still sees every change made
 * through it: a link it changed (created, renamed, moved, deleted, enslaved, set up, addressed) is
 * read from the kernel again. A change made behind cnm's back during the batch is seen by the next
 * batch, as it would be by the next reconcile.
 */
export function createHostView(host: Handle): HostView {
  let seen: Seen | undefined
  const touched = (...names: string[]): void => {
    if (!seen) return
    for (const name of names) {
      seen.staleLinks.add(name)
      seen.staleAddresses.add(name)
    }
    seen.list = undefined
  }
  const writing =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>, names: (...args: A) => string[]) =>
    async (...args: A): Promise<R> => {
      try {
        return await fn(...args)
      } finally {
        touched(...names(...args))
      }
    }
  const dumpLinks = async (s: Seen): Promise<Map<string, Link>> => {
    const list = await host.listLinks()
    s.links = new Map(list.map((l) => [l.name, l]))
    s.list = list
    s.staleLinks.clear()
    return s.links
  }
  const findLink = async (name: string): Promise<Link | undefined> => {
    const s = seen
    if (!s) return host.findLink(name)
    if (s.links && s.staleLinks.has(name)) {
      const link = await host.findLink(name)
      if (link) s.links.set(name, link)
      else s.links.delete(name)
      s.staleLinks.delete(name)
      return link
    }
    return (s.links ?? (await dumpLinks(s))).get(name)
  }
  return {
    ...host,
    beginBatch() {
      seen = {
        links: undefined,
        list: undefined,
        addresses: undefined,
        staleLinks: new Set(),
        staleAddresses: new Set(),
        sysctls: new Map(),
      }
    },
    endBatch() {
      seen = undefined
    },
    findLink,
    async getLink(ref) {
      if (!seen || typeof ref !== 'string') return host.getLink(ref)
      return (await findLink(ref)) ?? host.getLink(ref) // ENODEV, as the kernel says it
    },
    async listLinks() {
      const s = seen
      if (!s) return host.listLinks()
      if (!s.list) await dumpLinks(s)
      return [...(s.list ?? [])]
    },
    async listAddresses(name) {
      const s = seen
      if (!s || name === undefined || s.staleAddresses.has(name)) return host.listAddresses(name)
      const link = await findLink(name)
      if (!link) return host.listAddresses(name) // ENODEV, as the kernel says it
      if (!s.addresses) {
        s.addresses = new Map()
        for (const a of await host.listAddresses()) {
          const list = s.addresses.get(a.index)
          if (list) list.push(a)
          else s.addresses.set(a.index, [a])
        }
      }
      return [...(s.addresses.get(link.index) ?? [])]
    },
    readSysctl(key) {
      const s = seen
      // Only the host-wide switches every network's restore reads; a counter (nf_conntrack_count)
      // or a link's own setting is read from the kernel each time.
      if (!s || !BATCH_SYSCTLS.has(key)) return host.readSysctl(key)
      let value = s.sysctls.get(key)
      if (value === undefined) {
        value = host.readSysctl(key)
        s.sysctls.set(key, value)
      }
      return value
    },
    writeSysctl(key, value) {
      seen?.sysctls.delete(key)
      host.writeSysctl(key, value)
    },
    createBridge: writing(host.createBridge, (name) => [name]),
    setAlias: writing(host.setAlias, (name) => [name]),
    createVeth: writing(host.createVeth, (name, peer) => [name, peer]),
    setLinkUp: writing(host.setLinkUp, (name) => [name]),
    setMtu: writing(host.setMtu, (name) => [name]),
    setMac: writing(host.setMac, (name) => [name]),
    setMaster: writing(host.setMaster, (name) => [name]),
    renameLink: writing(host.renameLink, (name, newName) => [name, newName]),
    moveLink: writing(host.moveLink, (name) => [name]),
    setHairpin: writing(host.setHairpin, (name) => [name]),
    deleteLink: writing(host.deleteLink, (name) => [name]),
    addAddress: writing(host.addAddress, (name) => [name]),
    deleteAddress: writing(host.deleteAddress, (name) => [name]),
  }
}
