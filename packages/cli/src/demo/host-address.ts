import type { Handle } from '@cnm/netlink'

/** The address the demo reaches published ports through, as the host's own. */
export interface HostAddress {
  address: string
  /** The link that holds it. */
  link: string
  /** Whether the demo made the link (and removes it). */
  created: boolean
  remove(): Promise<void>
}

/** The throwaway host's address: TEST-NET-2, never routed on the Internet. */
export const DEMO_HOST_CIDR = '198.51.100.1/24'

/** A global IPv4 address of a physical link that is up (not a bridge, veth or loopback). */
async function existingAddress(handle: Handle): Promise<HostAddress | undefined> {
  const links = (await handle.listLinks()).filter((l) => l.up && l.name !== 'lo' && l.kind === undefined)
  const addrs = await handle.listAddresses()
  for (const link of links) {
    const a = addrs.find((x) => x.index === link.index && x.family === 4 && !/^(127|169\.254)\./u.test(x.address))
    if (a) return { address: a.address, link: link.name, created: false, remove: async () => undefined }
  }
  return undefined
}

/**
 * In the throwaway namespace: a veth pair whose first end holds 198.51.100.1/24 (both ends up, so
 * the address is live). In place: the host's own address, when it has one, else the same pair.
 */
export async function hostAddress(handle: Handle, inPlace: boolean): Promise<HostAddress> {
  const found = inPlace ? await existingAddress(handle) : undefined
  if (found) return found
  const [link, peer] = [`cnmd${process.pid}h`, `cnmd${process.pid}p`].map((n) => n.slice(0, 15)) as [string, string]
  await handle.createVeth(link, peer)
  const remove = async (): Promise<void> => handle.deleteLink(link)
  try {
    await handle.addAddress(link, DEMO_HOST_CIDR)
    await handle.setLinkUp(peer)
    await handle.setLinkUp(link)
  } catch (err) {
    await remove().catch(() => undefined)
    throw err
  }
  return { address: DEMO_HOST_CIDR.split('/')[0] ?? '', link, created: true, remove }
}
