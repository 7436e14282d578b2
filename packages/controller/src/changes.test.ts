// Aliases and container names (stored with their endpoint and sandbox) and the change hook the
// daemon's DNS follows, without root: the in-memory driver and sandboxes stand in for the kernel.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { ControllerChange } from './changes.js'
import { memoryControllerFixture } from './testing/memory-controller.js'

const fx = memoryControllerFixture('changes')
beforeEach(() => fx.setUp())
afterEach(() => fx.tearDown())
const controller = () => fx.controller()

describe('aliases and container names', () => {
  it('are stored with the endpoint and the sandbox and survive a restart; bad ones are refused before anything changes', async () => {
    const c = await controller()
    const n = await c.newNetwork(await c.newNetworkDriver('memory'), 'dns', {})
    const sb = await c.newSandbox('4d23e9a1b2c3', { name: 'web-1' })
    expect(sb.name).toBe('web-1')
    const ep = await n.connect(sb, 'web', {}, undefined, { aliases: ['www', 'Front.end', 'www'] })
    expect(ep.aliases).toEqual(['www', 'Front.end'])
    expect(ep.inspect().aliases).toEqual(['www', 'Front.end'])
    const { endpoint: plain } = await n.createEndpoint('plain', undefined, {}, { aliases: ['api'] })
    expect(plain.inspect().aliases).toEqual(['api'])

    for (const bad of [['has space'], ['-dash'], ['a'.repeat(64)], 'www', [7]]) {
      await expect(
        n.connect(sb, 'bad', {}, { allowSameNetwork: true }, { aliases: bad as string[] }),
      ).rejects.toMatchObject({
        code: 'ERR_INVALID_NAME',
        kind: 'invalid',
      })
    }
    await expect(c.newSandbox('other', { name: 'no/slash' })).rejects.toMatchObject({ code: 'ERR_INVALID_NAME' })
    expect(n.endpoints().map((e) => e.name)).toEqual(['web', 'plain'])
    expect(c.sandboxes().map((s) => s.containerID)).toEqual(['4d23e9a1b2c3'])

    await c.close()
    const again = await controller()
    const net = again.networkByName('dns')
    expect(net?.endpoints().map((e) => [e.name, e.aliases])).toEqual([
      ['web', ['www', 'Front.end']],
      ['plain', ['api']],
    ])
    expect(again.sandboxes().map((s) => [s.containerID, s.name, s.inspect().name])).toEqual([
      ['4d23e9a1b2c3', 'web-1', 'web-1'],
    ])
    // Deleting the endpoint and the sandbox deletes their names too.
    await net?.endpoints()[1]?.delete()
    await again.sandboxes()[0]?.destroy()
    expect(again.store.snapshot().endpoints).toEqual([])
  })
})

describe('onChange', () => {
  it('announces joins (with names and addresses), leaves, networks, and reloads from another process, after the commit', async () => {
    const c = await controller()
    const seen: ControllerChange[] = []
    const off = c.onChange((change) => {
      // Called after the commit: the controller already shows the change.
      if (change.type === 'join')
        expect(
          c
            .sandboxes()[0]
            ?.endpoints()
            .map((e) => e.id),
        ).toContain(change.endpoint.id)
      seen.push(change)
    })
    const n = await c.newNetwork(await c.newNetworkDriver('memory'), 'watched', {})
    const sb = await c.newSandbox('abc123', { name: 'db' })
    const ep = await n.connect(sb, 'db', {}, undefined, { aliases: ['sql'] })
    fx.kernel.failNext('join')
    await expect(n.connect(sb, 'db2', {}, { allowSameNetwork: true })).rejects.toBeDefined()
    await ep.delete()
    // (The failed connect rolled back: the next operation reloads from the store, a `sync`.)
    expect(seen.filter((s) => s.type !== 'sync')).toEqual([
      { type: 'network', action: 'create', id: n.id },
      {
        type: 'join',
        endpoint: {
          id: ep.id,
          name: 'db',
          networkId: n.id,
          aliases: ['sql'],
          ipv4: '10.0.1.2',
          ipv6: undefined,
          sandbox: { id: sb.id, containerID: 'abc123', name: 'db', key: sb.key },
        },
      },
      { type: 'leave', endpointId: ep.id, networkId: n.id },
    ])
    seen.length = 0
    // Another process's work is seen as a reload.
    const other = await controller()
    await other.networkByName('watched')?.createEndpoint('x')
    await c.refresh()
    expect(seen).toEqual([{ type: 'sync' }])
    seen.length = 0
    await sb.destroy()
    await n.endpoints()[0]?.delete()
    await n.delete()
    expect(seen.filter((s) => s.type === 'network')).toEqual([{ type: 'network', action: 'delete', id: n.id }])
    off()
    await c.newNetwork(await c.newNetworkDriver('memory'), 'quiet', {})
    expect(seen.filter((s) => s.type === 'network')).toHaveLength(1)
  })
})
