import { randomBytes } from 'node:crypto'

/** The host end of an endpoint's veth: `veth` + the endpoint id's first 11 characters. */
export function hostVethName(eid: string): string {
  return `veth${eid.slice(0, 11)}`
}

/** The container end while it waits in the host namespace (no sandbox key given). */
export function parkedVethName(eid: string): string {
  return `vetc${eid.slice(0, 11)}`
}

/** `02:42:` followed by the IPv4 address's four bytes (Docker's derivation). */
export function macFromIPv4(ip: string): string {
  return `02:42:${ip
    .split('.')
    .map((x) => Number(x).toString(16).padStart(2, '0'))
    .join(':')}`
}

/** A random unicast, locally administered MAC (a bridge's own; an IPv6-only endpoint's). */
export function randomMac(): string {
  const b = randomBytes(6)
  b[0] = ((b[0] ?? 0) & 0xfe) | 0x02
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':')
}
