// A namespace lent to `join` (a CNI attachment's: the runtime's, not the controller's), without
// root: the in-memory driver and sandbox backend stand in for the kernel.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createMemoryDriver, createMemoryKernel, type MemoryKernel } from '@cnm/driverapi/testing'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createController } from './controller.js'
import { createMemorySandboxes, type MemorySandboxBackend } from './testing/memory-sandboxes.js'

let dir: string
let kernel: MemoryKernel
let sandboxes: MemorySandboxBackend
const open: { close(): Promise<void> }[] = []

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cnm-lent-'))
  kernel = createMemoryKernel()
  sandboxes = createMemorySandboxes(path.join(dir, 'netns'))
})

afterEach(async () => {
  for (const c of open.splice(0)) await c.close().catch(() => undefined)
  rmSync(dir, { recursive: true, force: true })
})

async function controller() {
  const c = await createController({
    storePath: path.join(dir, 'cnm.db'),
    sandboxBackend: sandboxes,
    drivers: { memory: ({ owner }) => createMemoryDriver({ kernel, owner }) },
  })
  open.push(c)
  return c
}

/** A namespace the caller made and lends (as the CNI path lends the runtime's). */
async function lent(name: string) {
  return sandboxes.create(path.join(dir, 'runtime', name))
}

describe('a lent namespace', () => {
  it('leaves no sandbox record once its last endpoint is deleted, at once and after a restart', async () => {
    const c = await controller()
    const n = await c.newNetwork(await c.newNetworkDriver('memory'), 'n1', {})
    const m = await c.newNetwork(await c.newNetworkDriver('memory'), 'n2', {})
    const ns = await lent('pod1')
    const a = await n.createEndpoint('a')
    const b = await m.createEndpoint('b')
    await a.endpoint.join(ns)
    await b.endpoint.join(ns)
    expect(c.sandboxes().map((s) => s.key)).toEqual([ns.key])
    await a.endpoint.delete()
    expect(c.sandboxes().map((s) => s.inspect().endpoints)).toEqual([[b.endpoint.id]])
    await b.endpoint.delete()
    expect(c.sandboxes()).toEqual([])
    expect(sandboxes.sandboxes.has(ns.key)).toBe(true) // the lender's namespace stays
    await c.close()
    const again = await controller()
    expect(again.sandboxes()).toEqual([])
    expect(again.lastReconcile.droppedSandboxes).toEqual([])
  })

  it('a sandbox the controller made for a container keeps its record after its last leave', async () => {
    const c = await controller()
    const n = await c.newNetwork(await c.newNetworkDriver('memory'), 'n1', {})
    const sb = await c.newSandbox('box1')
    const { endpoint } = await n.createEndpoint('a')
    await endpoint.join(sb)
    await endpoint.delete()
    expect(c.sandboxes().map((s) => s.id)).toEqual([sb.id])
  })
})

describe('the join option interfaceName', () => {
  it('names the interface moved into the sandbox; a name the sandbox has is a conflict, before anything changes', async () => {
    const c = await controller()
    const n = await c.newNetwork(await c.newNetworkDriver('memory'), 'n1', {})
    const m = await c.newNetwork(await c.newNetworkDriver('memory'), 'n2', {})
    const ns = await lent('pod2')
    const a = await n.createEndpoint('a')
    await a.endpoint.join(ns, { interfaceName: 'net1' })
    expect([...(sandboxes.sandboxes.get(ns.key)?.interfaces.keys() ?? [])]).toEqual(['net1'])
    expect(a.endpoint.inspect().joined?.interface).toBe('net1')
    const b = await m.createEndpoint('b')
    await expect(b.endpoint.join(ns, { interfaceName: 'net1' })).rejects.toMatchObject({
      code: 'ERR_INTERFACE_EXISTS',
      kind: 'conflict',
      message: expect.stringContaining('net1'),
    })
    expect(b.endpoint.inspect().joined).toBeUndefined()
    await expect(b.endpoint.join(ns, { interfaceName: 'a/b' })).rejects.toMatchObject({
      code: 'ERR_INVALID_INTERFACE_NAME',
      kind: 'invalid',
    })
    await b.endpoint.join(ns)
    expect([...(sandboxes.sandboxes.get(ns.key)?.interfaces.keys() ?? [])].sort()).toEqual(['eth0', 'net1'])
  })
})
