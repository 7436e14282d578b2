import type { JoinedEndpoint, NetworkInspect } from '@cnm/controller'
import { type DnsEntry, tryNormalizeName } from '@cnm/dns'
import { dockerNetworkIdOf } from '../docker-owned.js'

/** The search domain of every network's DNS server: `web` and `web.cnm.internal` are one name. */
export const DNS_DOMAIN = 'cnm.internal'

/** Where and how one network's DNS server runs. */
export interface DnsPlan {
  networkId: string
  networkName: string
  /** Its gateway addresses: where the server listens, and each sandbox's name servers. */
  addresses: string[]
  subnets: string[]
  /** Forward what is not the network's to the host's resolvers (not on an internal network). */
  forward: boolean
}

/**
 * Whether a network gets a DNS server, and where. Docker's rule, for cnm's drivers: user-defined
 * bridge networks do (every cnm bridge network is user-defined: there is no default `bridge`), on
 * their gateway addresses, which the bridge holds on the host (internal ones too: names, no
 * forwarding). Networks without a host-side gateway get none: `null` (loopback only), `macvlan`
 * (its gateway is an outside router, and the host cannot reach its own macvlan children), a driver
 * of another program whose gateway the host does not hold. Nor does a network dockerd made through
 * the plugin: its containers ask Docker's embedded DNS (127.0.0.11 in each container), never the
 * gateway, so a server there would answer nobody and only be one more thing a container can flood.
 */
export function dnsPlanOf(net: NetworkInspect): DnsPlan | undefined {
  if (net.driver !== 'bridge' || dockerNetworkIdOf(net.name) !== undefined) return undefined
  const addresses = [net.gateway, net.gatewayIPv6].filter((a): a is string => typeof a === 'string' && a !== '')
  if (addresses.length === 0) return undefined
  return {
    networkId: net.id,
    networkName: net.name,
    addresses: addresses.map((a) => a.split('/')[0] as string),
    // Every subnet of the network: only clients inside them are answered (@cnm/dns `subnets`).
    subnets: [
      ...new Set(
        [net.subnet, net.subnetIPv6, ...[...(net.ipam?.v4 ?? []), ...(net.ipam?.v6 ?? [])].map((d) => d.subnet)].filter(
          (s): s is string => typeof s === 'string' && s !== '',
        ),
      ),
    ],
    forward: !net.internal,
  }
}

/** The short id Docker shows (and resolves) for a long hex container id. */
function shortId(id: string): string | undefined {
  return /^[0-9a-f]{13,}$/u.test(id) ? id.slice(0, 12) : undefined
}

/**
 * The names of a joined endpoint: the container's name answers PTR (else the endpoint's name);
 * the endpoint name, the container id (and its short form) and the aliases answer A/AAAA too. A
 * name that is not a DNS name (a 64-character id is one label too long) is left out; an endpoint
 * without an address has no entry.
 */
export function dnsEntryOf(ep: JoinedEndpoint): DnsEntry | undefined {
  const addresses = [ep.ipv4, ep.ipv6].filter((a): a is string => a !== undefined)
  if (addresses.length === 0) return undefined
  const candidates = [
    ep.sandbox.name,
    ep.name,
    ep.sandbox.containerID,
    shortId(ep.sandbox.containerID),
    ...ep.aliases,
  ].filter((n): n is string => n !== undefined && tryNormalizeName(n) !== undefined)
  const seen = new Set<string>()
  const names = candidates.filter((n) => {
    const key = n.toLowerCase()
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
  const [name, ...aliases] = names
  if (name === undefined) return undefined
  return { id: ep.id, name, aliases, addresses }
}
