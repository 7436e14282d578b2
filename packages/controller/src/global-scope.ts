import type { ClusterContext, Driver, SandboxInfo } from '@cnm/driverapi'
import { ERR_STORE_UNAVAILABLE, ERR_TEARDOWN, hasErrorCode, ipamFromOptions } from '@cnm/driverapi'
import { notifyChange } from './changes.js'
import { type Core, makeDriver, run } from './core.js'
import { nameExists } from './errors.js'
import { localSubnets, overlapError, overlapping } from './global-overlaps.js'
import { type ClusterMember, type GlobalNetworkRecord, GlobalStore, noCluster } from './global-store.js'
import type { EndpointRow, NetworkRow } from './store.js'

/** The controller's global scope: the cluster's store and what this host last read of it. */
export interface GlobalScope {
  store: GlobalStore
  /** Global networks by id, as the cluster records them (kept current by a watch). */
  records: Map<string, GlobalNetworkRecord>
  /** Stops the watch and the lease listener. */
  stop: () => Promise<void>
  /** Problems met while following the cluster (a network that could not be taken in, a conflict). */
  errors: string[]
}

const message = (err: unknown): string => (err as Error)?.message ?? String(err)

/** Whether networks of this driver live in the cluster (global scope). */
export function isGlobal(driver: Driver): boolean {
  return driver.capabilities.scope === 'global'
}

/**
 * Whether the controller claims the addresses of this driver's endpoints in the cluster: a
 * global-scope driver that does not claim them itself (`capabilities.claimsAddresses`). Every
 * address has exactly one owner of its claim.
 */
export function claimsForDriver(driver: Driver): boolean {
  return isGlobal(driver) && driver.capabilities.claimsAddresses !== true
}

/** The global scope, or the error for a global-scope driver on a host that joined no cluster. */
export function requireGlobal(core: Core, type: string): GlobalScope {
  if (!core.global) throw noCluster(type)
  return core.global
}

/** The cluster's record of a global network (read again when this host has not seen it yet). */
async function recordOf(scope: GlobalScope, net: NetworkRow): Promise<GlobalNetworkRecord> {
  const known = scope.records.get(net.id)
  if (known) return known
  const entry = await scope.store.cluster.kv.get(scope.store.networkKey(net.id))
  if (!entry) return { id: net.id, name: net.name, type: net.type, options: {}, subnet: '', gateway: '', host: '' }
  const record = JSON.parse(entry.value) as GlobalNetworkRecord
  scope.records.set(net.id, record)
  return record
}

/**
 * Creates a global network: its name and subnet claimed in the cluster first, then the driver's
 * part here, then the local row (what this host needs to restore its kernel state). A failure
 * after the claim releases it; the returned undo (a failed commit) takes both back.
 */
export async function createGlobalNetwork(
  core: Core,
  driver: Driver,
  id: string,
  name: string,
  type: string,
  options: unknown,
): Promise<{ row: NetworkRow; undo: () => Promise<void> }> {
  const scope = requireGlobal(core, type)
  const opts = (options ?? {}) as Record<string, unknown>
  const record = await scope.store.claimNetwork(id, name, type, opts, localSubnets(core))
  const row: NetworkRow = { id, name, type, options: record.options, record: null }
  try {
    // The cluster's record (an edge: its option text converted once) as the driver's IPAM data.
    const input = ipamFromOptions(record.options)
    await driver.createNetwork(id, input.options, input.ipam)
    try {
      row.record = driver.persistence?.exportNetwork(id) ?? null
      core.store.insertNetwork(row)
    } catch (err) {
      await driver.deleteNetwork(id).catch(() => undefined)
      throw err
    }
  } catch (err) {
    await scope.store.releaseNetwork(record).catch(() => undefined)
    throw err
  }
  scope.records.set(id, record)
  return {
    row,
    undo: async () => {
      await driver.deleteNetwork(id).catch(() => undefined)
      await scope.store.releaseNetwork(record).catch(() => undefined)
    },
  }
}

/** Releases a global network in the cluster before its local delete (refused while any host has endpoints). */
export async function releaseGlobalNetwork(core: Core, net: NetworkRow): Promise<void> {
  const scope = requireGlobal(core, net.type)
  await scope.store.releaseNetwork(await recordOf(scope, net))
  scope.records.delete(net.id)
}

/**
 * The endpoint options for the driver of a global network: the address claimed in the cluster for
 * endpoint `eid` (`ipv4Address`; the one the caller asked for, when it did), and how to release it.
 */
export async function claimEndpointAddress(
  core: Core,
  net: NetworkRow,
  eid: string,
  options: unknown,
): Promise<{ options: Record<string, unknown>; release: () => Promise<void> }> {
  const scope = requireGlobal(core, net.type)
  const opts = { ...((options ?? {}) as Record<string, unknown>) }
  const record = await recordOf(scope, net)
  const asked = typeof opts.ipv4Address === 'string' ? opts.ipv4Address : undefined
  const ip = await scope.store.claimAddress(record, eid, asked)
  return {
    options: { ...opts, ipv4Address: ip },
    release: () => scope.store.releaseAddress(net.id, ip, eid),
  }
}

/** The IPv4 address a global network's endpoint holds (from what its driver returned). */
export function endpointIPv4(ep: EndpointRow): string | undefined {
  const info = ep.sandboxInfo as SandboxInfo | undefined
  const cidr = info?.interfaces[0]?.address
  return cidr ? cidr.split('/')[0] : undefined
}

/** Frees a deleted endpoint's address in the cluster (best effort: its lease frees it anyway). */
export async function releaseEndpointAddress(core: Core, net: NetworkRow, ep: EndpointRow): Promise<void> {
  const ip = endpointIPv4(ep)
  if (!core.global || !ip) return
  await core.global.store.releaseAddress(net.id, ip, ep.id)
}

/**
 * Takes a global network another host created into this one: its driver (made when needed), the
 * driver's part, the local row. Nothing happens in the kernel until an endpoint comes (the driver's
 * business: an overlay has no devices on a host without endpoints).
 */
async function adoptNetwork(core: Core, scope: GlobalScope, record: GlobalNetworkRecord): Promise<void> {
  await run(core, async () => {
    // Already here (this host made it), or deleted again before its turn came.
    if (core.networks.has(record.id) || !scope.records.has(record.id)) return { value: undefined }
    if ([...core.networks.values()].some((n) => n.name === record.name)) throw nameExists(record.name)
    // A local network here that overlaps it (made before the global one, or while this host was
    // away): the global network is taken in all the same (it is the cluster's), and the clash reported.
    for (const cidr of [record.subnet, record.subnetV6]) {
      const clash = cidr ? overlapping(cidr, localSubnets(core)) : undefined
      if (clash && cidr) note(scope, overlapError(record.name, cidr, clash, 'local').message)
    }
    let driver = core.drivers.get(record.type)
    let made: Driver | undefined
    if (!driver) {
      made = await makeDriver(core, record.type, {})
      driver = made
    }
    const input = ipamFromOptions(record.options)
    await driver.createNetwork(record.id, input.options, input.ipam)
    const row: NetworkRow = {
      id: record.id,
      name: record.name,
      type: record.type,
      options: record.options,
      record: null,
    }
    const d = driver
    try {
      row.record = d.persistence?.exportNetwork(record.id) ?? null
      core.store.insertNetwork(row)
    } catch (err) {
      await d.deleteNetwork(record.id).catch(() => undefined)
      throw err
    }
    return {
      value: undefined,
      apply: () => {
        if (made) core.drivers.set(record.type, made)
        core.networks.set(record.id, row)
        notifyChange(core, { type: 'network', action: 'create', id: record.id })
      },
      undo: () => d.deleteNetwork(record.id),
    }
  })
}

/** Drops a global network another host deleted (it has no endpoints here, or it would not be deleted). */
async function dropNetwork(core: Core, id: string): Promise<void> {
  await run(core, async () => {
    const net = core.networks.get(id)
    if (!net) return { value: undefined }
    const held = core.endpoints.groupSize(id)
    if (held > 0)
      throw new Error(
        `global network ${net.name} was deleted in the cluster while this host holds ${held} endpoint(s) on it`,
      )
    const driver = core.drivers.get(net.type)
    if (driver) {
      await driver.deleteNetwork(id).catch((err: unknown) => {
        if (!hasErrorCode(err, ERR_TEARDOWN)) throw err
      })
    }
    core.store.deleteNetwork(id)
    return {
      value: undefined,
      apply: () => {
        core.networks.delete(id)
        notifyChange(core, { type: 'network', action: 'delete', id })
      },
    }
  })
}

/**
 * Makes this host agree with the cluster: global networks it lacks are taken in, ones the cluster
 * no longer has (and this host holds no endpoint on) are dropped, and every local endpoint on a
 * global network has its address claimed under this host's current lease (after a restart, or a
 * lease lost while etcd was away). A claim another endpoint took meanwhile is reported.
 */
export async function reconcileGlobal(core: Core, scope: GlobalScope): Promise<string> {
  const { records, revision } = await scope.store.networks()
  const seen = new Set<string>()
  for (const record of records) {
    seen.add(record.id)
    scope.records.set(record.id, record)
    if (!core.networks.has(record.id)) {
      await adoptNetwork(core, scope, record).catch((err: unknown) =>
        note(scope, `take in global network ${record.name}: ${message(err)}`),
      )
    }
  }
  for (const net of [...core.networks.values()]) {
    const driver = core.drivers.get(net.type)
    if (!driver || !isGlobal(driver) || seen.has(net.id)) continue
    scope.records.delete(net.id)
    await dropNetwork(core, net.id).catch((err: unknown) => note(scope, message(err)))
  }
  await run(core, async () => {
    await reclaimAddresses(core, scope, seen)
    return { value: undefined }
  })
  return revision
}

/**
 * Inside an operation (so no endpoint is half made meanwhile): every local endpoint of a global
 * network has its claim under this host's current lease, and claims of this host that name no
 * endpoint here any more (a crash between the claim and the commit, a delete while etcd was away)
 * are released.
 */
async function reclaimAddresses(core: Core, scope: GlobalScope, networks: Set<string>): Promise<void> {
  for (const nid of networks) {
    const net = core.networks.get(nid)
    const driver = net ? core.drivers.get(net.type) : undefined
    // A driver that owns its claims renews them itself (restore, a re-granted lease).
    if (!net || (driver && !claimsForDriver(driver))) continue
    const claims = await scope.store.addresses(nid)
    for (const [ip, claim] of claims) {
      if (claim.host === scope.store.host && !core.endpoints.has(claim.endpoint)) {
        await scope.store.releaseAddress(nid, ip, claim.endpoint)
      }
    }
    for (const ep of core.endpoints.inGroup(nid)) {
      const ip = endpointIPv4(ep)
      if (!ip) continue
      const other = await scope.store.reclaimAddress(nid, ip, ep.id)
      if (other)
        note(
          scope,
          `endpoint ${ep.name}: address ${ip} of network ${net.name} is held by ${other.endpoint} on ${other.host}`,
        )
    }
  }
}

function note(scope: GlobalScope, line: string): void {
  if (!scope.errors.includes(line)) scope.errors.push(line)
  if (scope.errors.length > 100) scope.errors.shift()
}

/**
 * Joins the cluster: registers this host under its lease, reconciles with the cluster's records and
 * follows them (global networks created and deleted elsewhere). When the lease is lost and a new
 * one granted, the host registers and reconciles again. With etcd unreachable at start, local
 * networks work and the global scope catches up once the lease is granted.
 */
export async function startGlobal(core: Core, cluster: ClusterContext): Promise<GlobalScope> {
  const scope: GlobalScope = {
    store: new GlobalStore(cluster),
    records: new Map(),
    errors: [],
    stop: async () => undefined,
  }
  core.global = scope
  let stopWatch: (() => Promise<void>) | undefined
  let stopped = false
  const follow = async (): Promise<void> => {
    await scope.store.register()
    const revision = await reconcileGlobal(core, scope)
    await stopWatch?.()
    if (stopped) return
    stopWatch = await scope.store.watchNetworks(
      String(BigInt(revision) + 1n),
      (event) => {
        if (event.type === 'put') {
          scope.records.set(event.record.id, event.record)
          if (!core.networks.has(event.record.id)) {
            adoptNetwork(core, scope, event.record).catch((err: unknown) =>
              note(scope, `take in global network ${event.record.name}: ${message(err)}`),
            )
          }
        } else {
          scope.records.delete(event.id)
          dropNetwork(core, event.id).catch((err: unknown) => note(scope, message(err)))
        }
      },
      (err) => {
        // The watch cannot go on (its revision was compacted away): read everything again.
        note(scope, `watch global networks: ${err.message}`)
        if (!stopped) retryLater(core, scope, follow, () => stopped)
      },
    )
  }
  const unlisten = cluster.kv.onLease((event) => {
    if (event === 'granted') follow().catch((err: unknown) => note(scope, `rejoin the cluster: ${message(err)}`))
  })
  scope.stop = async () => {
    stopped = true
    unlisten()
    await stopWatch?.()
  }
  try {
    await follow()
  } catch (err) {
    if (!hasErrorCode(err, ERR_STORE_UNAVAILABLE)) throw err
    // etcd is away: local networks work; the lease's grant (`granted`) brings the global scope back.
    note(scope, `cluster store unavailable at start: ${message(err)}`)
    retryLater(core, scope, follow, () => stopped)
  }
  return scope
}

/** Retries joining every two seconds until it works or the controller stops. */
function retryLater(core: Core, scope: GlobalScope, follow: () => Promise<void>, stopped: () => boolean): void {
  const timer = setTimeout(() => {
    if (stopped() || core.closed) return
    follow().catch((err: unknown) => {
      note(scope, `join the cluster: ${message(err)}`)
      retryLater(core, scope, follow, stopped)
    })
  }, 2000)
  timer.unref()
}

/** The hosts of the cluster whose lease is alive. */
export function clusterMembers(core: Core): Promise<ClusterMember[]> {
  if (!core.global) return Promise.resolve([])
  return core.global.store.members()
}
