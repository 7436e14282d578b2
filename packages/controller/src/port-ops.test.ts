// Publishing and unpublishing ports on an existing endpoint (Docker's Program/Revoke
// ExternalConnectivity), without root: the in-memory driver holds the "kernel's" ports.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Driver } from '@cnm/driverapi'
import { createMemoryDriver, createMemoryKernel, type MemoryKernel } from '@cnm/driverapi/testing'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createController } from './controller.js'
import { createMemorySandboxes, type MemorySandboxBackend } from './testing/memory-sandboxes.js'

let dir: string
let kernel: MemoryKernel
let sandboxes: MemorySandboxBackend
const open: { close(): Promise<void> }[] = []

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cnm-port-ops-'))
  kernel = createMemoryKernel()
  sandboxes = createMemorySandboxes(path.join(dir, 'netns'))
})

afterEach(async () => {
  for (const c of open.splice(0)) await c.close().catch(() => undefined)
  rmSync(dir, { recursive: true, force: true })
})

/** The memory driver without the verbs that publish on an existing endpoint. */
function withoutPublish(d: Driver): Driver {
  const { publishPorts: _p, unpublishPorts: _u, ...rest } = d
  return rest
}

async function controller() {
  const c = await createController({
    storePath: path.join(dir, 'cnm.db'),
    sandboxBackend: sandboxes,
    drivers: {
      memory: ({ owner }) => createMemoryDriver({ kernel, owner }),
      fixed: ({ owner }) => withoutPublish(createMemoryDriver({ kernel, owner })),
    },
  })
  open.push(c)
  return c
}

const http = { proto: 'tcp', containerPort: 80, hostPort: 8080 } as const

describe('endpoint.publishPorts / unpublishPorts', () => {
  it('publishes on an existing endpoint, records the allocation, and unpublishes it again', async () => {
    const c = await controller()
    const n = await c.newNetwork(await c.newNetworkDriver('memory'), 'n', {})
    const { endpoint } = await n.createEndpoint('e')
    expect(c.ports()).toEqual([])
    const published = await endpoint.publishPorts([http])
    expect(published).toMatchObject([{ proto: 'tcp', hostPort: 8080, containerPort: 80, containerIP: '10.0.1.2' }])
    expect(c.ports()).toMatchObject([{ network: 'n', endpoint: 'e', hostPort: 8080 }])
    expect(c.store.allocations().ports).toMatchObject([{ proto: 'tcp', port: 8080, endpointId: endpoint.id }])
    expect([...kernel.ports.keys()]).toEqual(['tcp/8080'])

    // More ports later keep the first ones; unpublish takes every one.
    await endpoint.publishPorts([{ proto: 'udp', containerPort: 53 }])
    expect(c.ports().map((p) => `${p.proto}/${p.hostPort}`)).toEqual(['tcp/8080', 'udp/49153'])
    const gone = await endpoint.unpublishPorts()
    expect(gone.map((p) => p.hostPort)).toEqual([8080, 49153])
    expect(c.ports()).toEqual([])
    expect(c.store.allocations().ports).toEqual([])
    expect(kernel.ports.size).toBe(0)
    expect(await endpoint.unpublishPorts()).toEqual([]) // nothing left: nothing to do
  })

  it('what was published survives a restart of the process (the record holds it)', async () => {
    const a = await controller()
    const n = await a.newNetwork(await a.newNetworkDriver('memory'), 'n', {})
    const { endpoint } = await n.createEndpoint('e')
    await endpoint.publishPorts([http])
    await a.close()
    const b = await controller()
    expect(b.ports()).toMatchObject([{ endpoint: 'e', hostPort: 8080 }])
    await b.networkByName('n')?.endpoints()[0]?.unpublishPorts()
    expect(b.ports()).toEqual([])
    await b.close()
    const c = await controller()
    expect(c.ports()).toEqual([])
    expect(kernel.ports.size).toBe(0)
  })

  it('a port held elsewhere is refused and nothing changes; a failed commit undoes the publish', async () => {
    const c = await controller()
    const n = await c.newNetwork(await c.newNetworkDriver('memory'), 'n', {})
    await n.createEndpoint('holder', undefined, { portBindings: [http] })
    const { endpoint } = await n.createEndpoint('e')
    await expect(
      endpoint.publishPorts([{ proto: 'udp', containerPort: 53, hostPort: 5353 }, http]),
    ).rejects.toMatchObject({ code: 'ERR_PORT_ALREADY_ALLOCATED', kind: 'conflict' })
    expect(c.ports().map((p) => p.endpoint)).toEqual(['holder'])
    expect([...kernel.ports.keys()]).toEqual(['tcp/8080'])

    const commit = c.store.commit.bind(c.store)
    c.store.commit = () => {
      c.store.commit = commit
      throw Object.assign(new Error('disk full'), { code: 'SQLITE_FULL' })
    }
    await expect(endpoint.publishPorts([{ proto: 'udp', containerPort: 53, hostPort: 5353 }])).rejects.toThrow(
      'disk full',
    )
    expect([...kernel.ports.keys()]).toEqual(['tcp/8080'])
    expect(c.store.allocations().ports.map((p) => p.port)).toEqual([8080])
  })

  it('a failed commit of an unpublish publishes the same ports again', async () => {
    const c = await controller()
    const n = await c.newNetwork(await c.newNetworkDriver('memory'), 'n', {})
    const { endpoint } = await n.createEndpoint('e', undefined, { portBindings: [http] })
    const commit = c.store.commit.bind(c.store)
    c.store.commit = () => {
      c.store.commit = commit
      throw Object.assign(new Error('disk full'), { code: 'SQLITE_FULL' })
    }
    await expect(endpoint.unpublishPorts()).rejects.toThrow('disk full')
    expect([...kernel.ports.keys()]).toEqual(['tcp/8080'])
    expect(c.ports()).toMatchObject([{ endpoint: 'e', hostPort: 8080 }])
  })

  it('a driver that cannot publish on an existing endpoint is refused with kind unsupported', async () => {
    const c = await controller()
    const n = await c.newNetwork(await c.newNetworkDriver('fixed'), 'f', { index: 9 })
    const { endpoint } = await n.createEndpoint('e')
    await expect(endpoint.publishPorts([http])).rejects.toMatchObject({
      code: 'ERR_PORTS_NOT_SUPPORTED',
      kind: 'unsupported',
      message: expect.stringContaining('endpoint e of network f'),
    })
    await expect(endpoint.unpublishPorts()).rejects.toMatchObject({ code: 'ERR_PORTS_NOT_SUPPORTED' })
    expect(kernel.ports.size).toBe(0)
  })
})
