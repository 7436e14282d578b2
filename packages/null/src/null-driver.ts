import {
  ActiveEndpointsError,
  type Driver,
  EndpointExistsError,
  InvalidConfigError,
  ipamSubnets,
  isEmptyIpam,
  NetworkExistsError,
  NoEndpointError,
  NoNetworkError,
} from '@cnm/driverapi'

/** The null driver's name. */
export const NULL_DRIVER_NAME = 'null'
/** Docker's name for a network of this driver. */
export const NULL_DRIVER_ALIASES: readonly string[] = ['none']

function noOptions(raw: unknown, what: string): void {
  if (raw === undefined || raw === null) return
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new InvalidConfigError(`${what} must be an object`)
  const key = Object.keys(raw)[0]
  if (key !== undefined) throw new InvalidConfigError(`the null driver takes no ${what}: got ${JSON.stringify(key)}`)
}

/**
 * The null driver (Docker's `none`): its endpoints give a sandbox no interface, no address and no
 * route, so a sandbox on it has loopback only. It touches nothing in the kernel, so it needs no
 * persistence: a controller re-creates its networks and endpoints from their options after a
 * restart. It takes no options (anything given is refused), and publishes no ports.
 */
export function createNullDriver(): Driver {
  const networks = new Map<string, Set<string>>()
  const network = (nid: string): Set<string> => {
    const n = networks.get(nid)
    if (!n) throw new NoNetworkError(nid)
    return n
  }
  const endpoint = (nid: string, eid: string): void => {
    if (!network(nid).has(eid)) throw new NoEndpointError(eid)
  }
  return {
    name: NULL_DRIVER_NAME,
    capabilities: { scope: 'local', publishesPorts: false, needsParent: false },
    async config(raw) {
      noOptions(raw, 'driver options')
    },
    async createNetwork(nid, raw, ipam) {
      if (networks.has(nid)) throw new NetworkExistsError(nid)
      noOptions(raw, 'network options')
      if (ipam && !isEmptyIpam(ipam)) {
        throw new InvalidConfigError(`the null driver takes no subnet (${ipamSubnets(ipam)[0]?.cidr} given)`)
      }
      networks.set(nid, new Set())
    },
    async deleteNetwork(nid) {
      const n = network(nid)
      if (n.size > 0) throw new ActiveEndpointsError(nid, n.size)
      networks.delete(nid)
    },
    async createEndpoint(nid, eid, _sandboxKey, raw) {
      const n = network(nid)
      if (n.has(eid)) throw new EndpointExistsError(eid)
      noOptions(raw, 'endpoint options')
      n.add(eid)
      return { interfaces: [] }
    },
    async deleteEndpoint(nid, eid) {
      endpoint(nid, eid)
      network(nid).delete(eid)
    },
    async join(nid, eid) {
      endpoint(nid, eid)
      return {}
    },
    async leave(nid, eid) {
      endpoint(nid, eid)
    },
    networkInfo: (nid) =>
      networks.has(nid)
        ? {
            id: nid,
            device: undefined,
            subnetV4: undefined,
            gatewayV4: undefined,
            subnetV6: undefined,
            gatewayV6: undefined,
            internal: true,
            icc: false,
          }
        : undefined,
    endpointInfo(nid, eid) {
      endpoint(nid, eid)
      return { id: eid, ipv4: undefined, ipv6: undefined, macAddress: undefined, ports: [] }
    },
    async close() {
      networks.clear()
    },
  }
}
