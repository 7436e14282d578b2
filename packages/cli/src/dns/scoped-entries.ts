import type { JoinedEndpoint } from '@cnm/controller'
import type { DnsEntry } from '@cnm/dns'
import { dnsEntryOf } from './dns-plan.js'

/**
 * The entries that let a sandbox on several networks resolve all of them through the one server
 * its resolv.conf names: for a sandbox S joined to networks A and B (both with a server), each
 * endpoint of B goes into A's table visible only to S's addresses on A (and the other way round),
 * as aardvark-dns does by the client's source address. Nobody else sees more than before: another
 * network's names stay NXDOMAIN for a sandbox that is not on it. By network id.
 */
export function scopedEntries(
  joined: Iterable<JoinedEndpoint>,
  served: (networkId: string) => boolean,
): Map<string, DnsEntry[]> {
  const bySandbox = new Map<string, JoinedEndpoint[]>()
  const byNetwork = new Map<string, JoinedEndpoint[]>()
  for (const ep of joined) {
    if (!served(ep.networkId)) continue
    bySandbox.set(ep.sandbox.id, [...(bySandbox.get(ep.sandbox.id) ?? []), ep])
    byNetwork.set(ep.networkId, [...(byNetwork.get(ep.networkId) ?? []), ep])
  }
  const out = new Map<string, DnsEntry[]>()
  for (const [sandboxId, eps] of bySandbox) {
    if (new Set(eps.map((e) => e.networkId)).size < 2) continue
    for (const here of eps) {
      const clients = [here.ipv4, here.ipv6].filter((a): a is string => a !== undefined)
      if (clients.length === 0) continue
      for (const there of eps) {
        if (there.networkId === here.networkId) continue
        for (const other of byNetwork.get(there.networkId) ?? []) {
          const entry = dnsEntryOf(other)
          if (!entry) continue
          const list = out.get(here.networkId) ?? []
          list.push({ ...entry, id: `scoped:${sandboxId}:${here.id}:${other.id}`, clients })
          out.set(here.networkId, list)
        }
      }
    }
  }
  return out
}
