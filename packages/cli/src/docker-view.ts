import type { Network } from '@cnm/client'

/**
 * A network as `--format` sees it: cnm's own fields (`{{.name}}`, `{{.subnet}}`) and Docker's names
 * for them (`{{.ID}}`, `{{.Name}}`, `{{.Driver}}`, `{{.Scope}}`, `{{.IPv6}}`, `{{.Internal}}`,
 * `{{.Labels}}`, `{{json .IPAM}}`, `{{.Options}}`), so scripts written for `docker network ls` and
 * `docker network inspect` keep working.
 */
export function dockerNetworkView(n: Network): Record<string, unknown> {
  const labels = n.labels ?? {}
  const scope = (n as { scope?: unknown }).scope ?? 'local'
  const config = ipamConfig(n)
  return {
    ...n,
    ID: n.id,
    Id: n.id,
    Name: n.name,
    Driver: n.driver,
    Scope: scope,
    Created: n.created ?? '',
    IPv6: n.subnetIPv6 !== undefined,
    EnableIPv6: n.subnetIPv6 !== undefined,
    Internal: n.internal,
    Labels: labels,
    Options: n.options ?? {},
    IPAM: { Driver: 'default', Options: {}, Config: config },
    Containers: Object.fromEntries(
      n.endpoints.map((e) => [
        e.joined?.sandboxId ?? e.id,
        {
          Name: e.name,
          EndpointID: e.id,
          MacAddress: e.macAddress ?? '',
          IPv4Address: e.ipv4 ?? '',
          IPv6Address: e.ipv6 ?? '',
        },
      ]),
    ),
  }
}

/** One subnet of the IPAM data as given (text), as the REST body carries it. */
interface GivenSubnet {
  subnet?: unknown
  ipRange?: unknown
  auxAddresses?: unknown
}

/**
 * Docker's `IPAM.Config`: every subnet with its gateway (several per family when the network has
 * them), and the `IPRange` and `AuxiliaryAddresses` given with it.
 */
function ipamConfig(n: Network): Record<string, unknown>[] {
  const subnets = n.subnets ?? [
    ...(n.subnet ? [{ subnet: n.subnet, gateway: n.gateway }] : []),
    ...(n.subnetIPv6 ? [{ subnet: n.subnetIPv6, gateway: n.gatewayIPv6 }] : []),
  ]
  const ipam = (n.ipam ?? {}) as { v4?: GivenSubnet[]; v6?: GivenSubnet[] }
  const given = [...(ipam.v4 ?? []), ...(ipam.v6 ?? [])]
  return subnets.map((s) => {
    const g = given.find((x) => x.subnet === s.subnet)
    return {
      Subnet: s.subnet,
      ...(s.gateway ? { Gateway: s.gateway } : {}),
      ...(typeof g?.ipRange === 'string' ? { IPRange: g.ipRange } : {}),
      ...(g?.auxAddresses && typeof g.auxAddresses === 'object' ? { AuxiliaryAddresses: g.auxAddresses } : {}),
    }
  })
}

/**
 * A network as `network ls --format` sees it: as {@link dockerNetworkView}, but `{{.Labels}}` is
 * Docker's list form, `key=value` joined by commas (sorted by key), and `{{.CreatedAt}}` the time.
 */
export function dockerListView(n: Network): Record<string, unknown> {
  const labels = Object.entries(n.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return {
    ...dockerNetworkView(n),
    Labels: labels.map(([k, v]) => `${k}=${v}`).join(','),
    CreatedAt: n.created ?? '',
  }
}
