/** One interface of a CNI result. `sandbox` is set for interfaces inside the container. */
export interface CniInterface {
  /** The interface's name (`eth0` inside the container, the veth or bridge on the host). */
  name: string
  /** Its MAC address, if known. */
  mac?: string
  /** Its MTU in bytes, if known. */
  mtu?: number
  /** The container's namespace path (`CNI_NETNS`) for an interface inside it; absent on the host. */
  sandbox?: string
}

/**
 * One address of a CNI result (SPEC.md, "ips"), e.g.
 * `{ address: '10.22.0.5/24', gateway: '10.22.0.1', interface: 1 }`.
 */
export interface CniIP {
  /** CIDR: the address and its subnet's prefix length. */
  address: string
  /** The gateway of the address's subnet, a plain address. */
  gateway?: string
  /** Index into `interfaces`. */
  interface?: number
  /** 0.3.x and 0.4.0 only: `"4"` or `"6"`. */
  version?: '4' | '6'
}

/**
 * One route of a CNI result: destination `dst` in CIDR form (`0.0.0.0/0` for the default route)
 * and the next hop `gw` (absent: the gateway of the address the route goes out by).
 */
export interface CniRoute {
  /** The destination in CIDR form. */
  dst: string
  /** The next hop, a plain address. */
  gw?: string
}

/** A CNI result (SPEC.md, "Success"). */
export interface CniResult {
  /** The CNI version of the result: the configuration's `cniVersion`. */
  cniVersion: string
  /** The previous result's interfaces (when chained), then the bridge, the host veth end and the container's. */
  interfaces: CniInterface[]
  /** The previous result's addresses, then the container's, each naming its interface by index. */
  ips: CniIP[]
  /** The previous result's routes, then the container's default routes cnm installed. */
  routes: CniRoute[]
  /** DNS settings for the runtime (`nameservers`, `domain`, `search`, `options`); `{}` when none. */
  dns: Record<string, unknown>
}

/** What cnm knows of one attachment, to be written as a result. */
export interface AttachmentFacts {
  bridge: { name: string; mac: string | undefined } | undefined
  hostVeth: { name: string; mac: string | undefined } | undefined
  container: { name: string; mac: string | undefined; mtu: number | undefined; netns: string }
  /** `defaultRoute`: the container's default route goes through this gateway (its first network's). */
  ipv4: { address: string; gateway: string | undefined; defaultRoute: boolean } | undefined
  ipv6: { address: string; gateway: string | undefined; defaultRoute: boolean } | undefined
}

const withMac = (i: { name: string; mac: string | undefined }): CniInterface => ({
  name: i.name,
  ...(i.mac ? { mac: i.mac } : {}),
})

const legacy = (version: string): boolean => version.startsWith('0.')

/** The result of an ADD, in the configuration's version; chained after `prev` when there is one. */
export function buildResult(
  version: string,
  facts: AttachmentFacts,
  dns: Record<string, unknown> | undefined,
  prev: Record<string, unknown> | undefined,
): CniResult {
  const prevInterfaces = Array.isArray(prev?.interfaces) ? (prev.interfaces as CniInterface[]) : []
  const interfaces: CniInterface[] = [...prevInterfaces]
  if (facts.bridge) interfaces.push(withMac(facts.bridge))
  if (facts.hostVeth) interfaces.push(withMac(facts.hostVeth))
  const index = interfaces.length
  interfaces.push({
    ...withMac(facts.container),
    ...(facts.container.mtu ? { mtu: facts.container.mtu } : {}),
    sandbox: facts.container.netns,
  })
  const ips: CniIP[] = Array.isArray(prev?.ips) ? [...(prev.ips as CniIP[])] : []
  const routes: CniRoute[] = Array.isArray(prev?.routes) ? [...(prev.routes as CniRoute[])] : []
  for (const [family, ip] of [
    ['4', facts.ipv4],
    ['6', facts.ipv6],
  ] as const) {
    if (!ip) continue
    ips.push({
      ...(legacy(version) ? { version: family } : {}),
      address: ip.address,
      ...(ip.gateway ? { gateway: ip.gateway } : {}),
      interface: index,
    })
    if (ip.gateway && ip.defaultRoute) routes.push({ dst: family === '4' ? '0.0.0.0/0' : '::/0', gw: ip.gateway })
  }
  const prevDns = prev?.dns && typeof prev.dns === 'object' ? (prev.dns as Record<string, unknown>) : {}
  return { cniVersion: version, interfaces, ips: convertIps(ips, version), routes, dns: dns ?? prevDns }
}

/** IPs in a version's form: `version` present before 1.0.0, absent from 1.0.0 on. */
function convertIps(ips: CniIP[], version: string): CniIP[] {
  return ips.map((ip) => {
    const { version: v, ...rest } = ip
    if (!legacy(version)) return rest
    return { version: v ?? (ip.address.includes(':') ? '6' : '4'), ...rest }
  })
}

/** A result given by another plugin (prevResult) passed on unchanged but for its version's form. */
export function passOn(version: string, prev: Record<string, unknown>): Record<string, unknown> {
  const ips = Array.isArray(prev.ips) ? convertIps(prev.ips as CniIP[], version) : []
  return { ...prev, cniVersion: version, ips }
}
