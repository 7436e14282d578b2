import { createHash } from 'node:crypto'
import { addressFromValue, type IPPrefix } from '@cnm/ip'
import type { Handle } from '@cnm/netlink'

/** A network's bridge on this host: `ovb` + the network id's first 12 characters. */
export function bridgeName(nid: string): string {
  return `ovb${nid.slice(0, 12)}`
}

/** A network's VXLAN device on this host: `ovx` + the network id's first 12 characters. */
export function vxlanName(nid: string): string {
  return `ovx${nid.slice(0, 12)}`
}

/** An endpoint's host-side veth: `ovh` + the endpoint id's first 12 characters. */
export function hostVethName(eid: string): string {
  return `ovh${eid.slice(0, 12)}`
}

/** The name of the container side while it waits in the host namespace (no sandbox key); the sandbox renames it. */
export function containerLinkName(eid: string): string {
  return `ovc${eid.slice(0, 12)}`
}

/** The first `ethN` not yet used inside a sandbox. */
export async function freeEthName(sandbox: Handle): Promise<string> {
  const names = new Set((await sandbox.listLinks()).map((l) => l.name))
  for (let i = 0; ; i++) if (!names.has(`eth${i}`)) return `eth${i}`
}

/** `02:42:` followed by the IPv4 address's four bytes (Docker's derivation): unique as the address is. */
export function macFromIPv4(ip: string): string {
  return `02:42:${ip
    .split('.')
    .map((x) => Number(x).toString(16).padStart(2, '0'))
    .join(':')}`
}

/** An endpoint's IPv6 address on a dual-stack network: the subnet's prefix with the MAC's 48 bits (Docker's). */
export function ipv6FromMac(subnetV6: IPPrefix, mac: string): string {
  const bits = BigInt(`0x${mac.split(':').join('')}`)
  return addressFromValue(6, subnetV6.networkValue | bits).text
}

/**
 * The MAC of an endpoint on an IPv6-only network (no IPv4 address to derive it from): `02:` (locally
 * administered, unicast) and 40 bits of a hash of its id and `attempt` (the next one after a clash).
 */
export function macFromId(eid: string, attempt = 0): string {
  const digest = createHash('sha256').update(`${eid}/${attempt}`).digest()
  return ['02', ...[...digest.subarray(0, 5)].map((b) => b.toString(16).padStart(2, '0'))].join(':')
}
