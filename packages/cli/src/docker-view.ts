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
  const config = [
    ...(n.subnet ? [{ Subnet: n.subnet, ...(n.gateway ? { Gateway: n.gateway } : {}) }] : []),
    ...(n.subnetIPv6 ? [{ Subnet: n.subnetIPv6, ...(n.gatewayIPv6 ? { Gateway: n.gatewayIPv6 } : {}) }] : []),
  ]
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
