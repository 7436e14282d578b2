/**
 * The temporary name of an endpoint's macvlan link, where it is born (in the sandbox, or in the host
 * namespace without one): `mvc` + the endpoint id's first 12 characters. The sandbox renames it.
 */
export function endpointLinkName(eid: string): string {
  return `mvc${eid.slice(0, 12)}`
}

/** `02:42:` followed by the IPv4 address's four bytes (Docker's derivation). */
export function macFromIPv4(ip: string): string {
  return `02:42:${ip
    .split('.')
    .map((x) => Number(x).toString(16).padStart(2, '0'))
    .join(':')}`
}
