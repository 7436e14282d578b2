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
