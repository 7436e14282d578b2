import { type Driver, ERR_TEARDOWN, hasErrorCode, type PortBinding, type PublishedPort } from '@cnm/driverapi'
import { type Core, driverOf } from './core.js'
import { allocations, type Part } from './endpoint-ops.js'
import { ControllerError, ERR_PORTS_NOT_SUPPORTED, unknownNetwork } from './errors.js'
import type { EndpointRow } from './store.js'

type PortDriver = Driver & Required<Pick<Driver, 'publishPorts' | 'unpublishPorts'>>

/** The endpoint's network's driver, if it can publish and unpublish on an existing endpoint. */
function portDriver(core: Core, ep: EndpointRow): PortDriver {
  const net = core.networks.get(ep.networkId)
  if (!net) throw unknownNetwork(ep.networkId)
  const driver = driverOf(core, net.type)
  if (!driver.capabilities.publishesPorts || !driver.publishPorts || !driver.unpublishPorts) {
    throw new ControllerError(
      ERR_PORTS_NOT_SUPPORTED,
      `endpoint ${ep.name} of network ${net.name}: the ${driver.name} driver cannot publish ports on an existing endpoint`,
    )
  }
  return driver as PortDriver
}

/** The bindings that publish exactly these ports again (same host address and ports). */
export function bindingsOf(ports: readonly PublishedPort[]): PortBinding[] {
  return ports.map((p) => ({
    proto: p.proto,
    containerPort: p.containerPort,
    ...(p.containerPortEnd !== p.containerPort ? { containerPortEnd: p.containerPortEnd } : {}),
    hostIP: p.hostIP,
    hostPort: p.hostPort,
    ...(p.hostPortEnd !== p.hostPort ? { hostPortEnd: p.hostPortEnd } : {}),
  }))
}

/** Writes the endpoint's driver record and its port allocations as the driver now has them. */
function record(core: Core, driver: Driver, ep: EndpointRow): () => void {
  const rec = driver.persistence?.exportEndpoint(ep.networkId, ep.id) ?? null
  core.store.updateEndpointPorts(ep.id, rec, allocations(driver, ep.networkId, ep.id).ports)
  return () => {
    const row = core.endpoints.get(ep.id)
    if (row) core.endpoints.set(ep.id, { ...row, record: rec })
  }
}

/**
 * Publishes more ports on an existing endpoint (its driver's `publishPorts`), and records them with
 * the endpoint's allocations; the driver's work is undone if the record cannot be written.
 */
export async function publishEndpointPorts(
  core: Core,
  ep: EndpointRow,
  bindings: readonly PortBinding[],
): Promise<Part<PublishedPort[]>> {
  const driver = portDriver(core, ep)
  if (bindings.length === 0) return { value: [], apply: () => undefined, undo: async () => undefined }
  const published = await driver.publishPorts(ep.networkId, ep.id, bindings)
  const undo = (): Promise<void> => driver.unpublishPorts(ep.networkId, ep.id, published)
  let apply: () => void
  try {
    apply = record(core, driver, ep)
  } catch (err) {
    await undo().catch(() => undefined)
    throw err
  }
  return { value: published, apply, undo }
}

/**
 * Unpublishes every published port of an endpoint (its driver's `unpublishPorts`) and drops their
 * allocations. A teardown that partly failed is still recorded (the driver let them go); its error
 * is raised after the commit.
 */
export async function unpublishEndpointPorts(core: Core, ep: EndpointRow): Promise<Part<PublishedPort[]>> {
  const driver = portDriver(core, ep)
  const ports = driver.endpointInfo(ep.networkId, ep.id).ports
  if (ports.length === 0) return { value: [], apply: () => undefined, undo: async () => undefined }
  let teardown: unknown
  try {
    await driver.unpublishPorts(ep.networkId, ep.id, ports)
  } catch (err) {
    if (!hasErrorCode(err, ERR_TEARDOWN)) throw err
    teardown = err
  }
  const undo = (): Promise<unknown> => driver.publishPorts(ep.networkId, ep.id, bindingsOf(ports))
  let applied: () => void
  try {
    applied = record(core, driver, ep)
  } catch (err) {
    await undo().catch(() => undefined)
    throw err
  }
  return {
    value: ports,
    apply: () => {
      applied()
      if (teardown) throw teardown
    },
    undo,
  }
}
