/** One network interface a driver hands to a sandbox. Addresses are CIDR strings (`172.18.0.2/16`). */
export interface Interface {
  /** The interface's name where the driver created it (host side, or already in the sandbox). */
  srcName: string
  /** The name it must have inside the sandbox (`eth0`). */
  dstName: string
  address?: string
  addressIPv6?: string
  macAddress?: string
  mtu?: number
}

/** A route the sandbox must install, besides its default gateways. */
export interface StaticRoute {
  /** Destination as a CIDR. */
  destination: string
  /** Next hop address; absent for a directly connected route. */
  nextHop?: string
  /** The interface (its `dstName`) the route goes through. */
  interfaceName?: string
}

/** What a driver returns from `createEndpoint`: what the sandbox must configure. */
export interface SandboxInfo {
  interfaces: Interface[]
  gateway?: string
  gatewayIPv6?: string
  staticRoutes?: StaticRoute[]
}

/** The contract every network driver implements. */
export interface Driver {
  readonly name: string
  config(options: unknown): Promise<void>
  createNetwork(nid: string, options: unknown): Promise<void>
  deleteNetwork(nid: string): Promise<void>
  createEndpoint(nid: string, eid: string, sandboxKey: string, options: unknown): Promise<SandboxInfo>
  deleteEndpoint(nid: string, eid: string): Promise<void>
}
