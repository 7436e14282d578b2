import type { JoinedEndpoint } from '@cnm/controller'
import type { DnsEntry } from '@cnm/dns'
import { dnsEntryOf } from './dns-plan.js'

/**
 * The entries that let one sandbox on several networks resolve all of them through the one server
 * its resolv.conf names: for a sandbox S joined to networks A and B (both with a server), each
 * endpoint of B goes into A's table visible only to S's addresses on A (and the other way round),
 * as aardvark-dns does by the client's source address. Nobody else sees more than before: another
 * network's names stay NXDOMAIN for a sandbox that is not on it. `eps` are the sandbox's endpoints
 * on networks with a server, `onNetwork` a network's joined endpoints; by network id.
 */
export function scopedEntriesOf(
  eps: readonly JoinedEndpoint[],
  onNetwork: (networkId: string) => Iterable<JoinedEndpoint>,
): Map<string, DnsEntry[]> {
  const out = new Map<string, DnsEntry[]>()
  if (new Set(eps.map((e) => e.networkId)).size < 2) return out
  for (const here of eps) {
    const clients = [here.ipv4, here.ipv6].filter((a): a is string => a !== undefined)
    if (clients.length === 0) continue
    for (const there of eps) {
      if (there.networkId === here.networkId) continue
      for (const other of onNetwork(there.networkId)) {
        const entry = dnsEntryOf(other)
        if (!entry) continue
        const list = out.get(here.networkId) ?? []
        list.push({ ...entry, id: `scoped:${here.sandbox.id}:${here.id}:${other.id}`, clients })
        out.set(here.networkId, list)
      }
    }
  }
  return out
}
