// A namespace lent to `join` (a CNI attachment's: the runtime's, not the controller's), without
// root: the in-memory driver and sandbox backend stand in for the kernel.
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { memoryControllerFixture } from './testing/memory-controller.js'

const fx = memoryControllerFixture('lent')
beforeEach(() => fx.setUp())
afterEach(() => fx.tearDown())
const controller = () => fx.controller()

/** A namespace the caller made and lends (as the CNI path lends the runtime's). */
async function lent(name: string) {
  return fx.sandboxes.create(path.join(fx.dir, 'runtime', name))
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
    expect(fx.sandboxes.sandboxes.has(ns.key)).toBe(true) // the lender's namespace stays
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
    expect([...(fx.sandboxes.sandboxes.get(ns.key)?.interfaces.keys() ?? [])]).toEqual(['net1'])
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
    expect([...(fx.sandboxes.sandboxes.get(ns.key)?.interfaces.keys() ?? [])].sort()).toEqual(['eth0', 'net1'])
  })
})
