import { hasErrorCode, type Interface } from '@cnm/driverapi'
import type { Handle } from '@cnm/netlink'

/** How long {@link announceAddresses} waits for the link to be running (its bridge port forwarding). */
const RUNNING_TIMEOUT_MS = 500

/**
 * Makes the kernel announce an interface's addresses, as Docker does at join: a gratuitous ARP
 * (`arp_notify`) for its IPv4 address and an unsolicited neighbour advertisement with the override
 * flag (`ndisc_notify`) for its IPv6 address. A peer that still holds a neighbour entry for a reused
 * address (a container replaced by one with another MAC) takes the new MAC at once, instead of
 * sending into the void until its entry times out.
 *
 * The kernel announces when the MAC address is set (NETDEV_CHANGEADDR) — and at link up, but then
 * too early: the peer end's bridge port is not forwarding yet and drops it. So the knobs are set,
 * the link is waited for until it is running (the kernel's link watch has brought the veth pair and
 * the bridge port up: in practice a few ms), and its MAC is set again to the same value. A kernel
 * without IPv6 (no such sysctl) has nothing to announce there; a link that does not come up in time
 * (its peer is down) is not announced.
 */
export async function announceAddresses(
  sandbox: Handle,
  name: string,
  i: Pick<Interface, 'address' | 'addressIPv6'>,
  peerForwards?: () => Promise<boolean>,
): Promise<void> {
  const knobs: string[] = []
  if (i.address !== undefined) knobs.push(`net/ipv4/conf/${name}/arp_notify`)
  if (i.addressIPv6 !== undefined) knobs.push(`net/ipv6/conf/${name}/ndisc_notify`)
  let any = false
  for (const key of knobs) {
    try {
      sandbox.writeSysctl(key, '1')
      any = true
    } catch (err) {
      if (!hasErrorCode(err, 'ENOENT')) throw err
    }
  }
  if (!any) return
  const deadline = Date.now() + RUNNING_TIMEOUT_MS
  let link = await sandbox.getLink(name)
  while (!link.running && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 0))
    link = await sandbox.getLink(name)
  }
  // The sandbox's end runs once the kernel's link watch has seen its carrier; the host end's bridge
  // port may start forwarding a moment after that (the same watch, the other end's event), and drops
  // an announcement sent before it (seen: 1 join in 7 on an idle host, both the ARP and the NA lost).
  if (link.running && peerForwards) {
    while (!(await peerForwards()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 0))
  }
  if (link.running && link.mac !== undefined) await sandbox.setMac(name, link.mac)
}
