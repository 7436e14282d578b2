// How often a start-up reads the whole store (issue 14): the snapshot parses every record (JSON of
// every network, endpoint and sandbox: ~0.3 s with thousands of them), so a start-up takes it once.
// The in-memory driver and sandboxes stand in for the kernel.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createMemoryDriver, createMemoryKernel, type MemoryKernel } from '@cnm/driverapi/testing'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createController } from './controller.js'
import { Store } from './store.js'
import { createMemorySandboxes, type MemorySandboxBackend } from './testing/memory-sandboxes.js'

let dir: string
let kernel: MemoryKernel
let sandboxes: MemorySandboxBackend

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cnm-startup-'))
  kernel = createMemoryKernel()
  sandboxes = createMemorySandboxes(path.join(dir, 'netns'))
})

afterEach(() => {
  vi.restoreAllMocks()
  rmSync(dir, { recursive: true, force: true })
})

const open = () =>
  createController({
    storePath: path.join(dir, 'cnm.db'),
    sandboxBackend: sandboxes,
    drivers: { memory: ({ owner }) => createMemoryDriver({ kernel, owner }) },
  })

describe('start-up', () => {
  it('reads the store once, restores everything from that read, and finds no strays', async () => {
    const first = await open()
    const net = await first.newNetwork(await first.newNetworkDriver('memory'), 'n1', {})
    for (let i = 0; i < 3; i++) {
      const sb = await first.newSandbox(`box${i}`)
      await net.connect(sb, `ep${i}`, {})
    }
    await first.close()
    const linksBefore = [...kernel.links.keys()].sort()

    const snapshots = vi.spyOn(Store.prototype, 'snapshot')
    const records = vi.spyOn(Store.prototype, 'recordsOfType')
    const again = await open()
    try {
      expect(snapshots).toHaveBeenCalledTimes(1)
      // The stray pass reads only the records of its driver's networks and endpoints.
      expect(records).toHaveBeenCalledWith('memory')
      expect(again.lastReconcile).toMatchObject({ errors: [], removedLinks: [], droppedEndpoints: [] })
      expect(again.networks().map((n) => n.name)).toEqual(['n1'])
      expect(
        again
          .networks()[0]
          ?.endpoints()
          .map((e) => e.name)
          .sort(),
      ).toEqual(['ep0', 'ep1', 'ep2'])
      expect([...kernel.links.keys()].sort()).toEqual(linksBefore)
      // A later operation does not catch up again: nothing changed since the start-up's read.
      await again.newSandbox('box9')
      expect(snapshots).toHaveBeenCalledTimes(1)
      // An explicit reconcile reads the store once more, and once only.
      await again.reconcile()
      expect(snapshots).toHaveBeenCalledTimes(2)
    } finally {
      await again.close()
    }
  })

  it("restores every network and endpoint inside the drivers' batch (made after the batch began)", async () => {
    const first = await open()
    const net = await first.newNetwork(await first.newNetworkDriver('memory'), 'n1', {})
    await net.connect(await first.newSandbox('box'), 'ep', {})
    await first.close()
    // The start-up's reconcile begins its batch before its sync makes the store's drivers: the
    // driver made then must still be in it for the restores (else each reads the kernel alone).
    const seen: string[] = []
    const again = await createController({
      storePath: path.join(dir, 'cnm.db'),
      sandboxBackend: sandboxes,
      drivers: {
        memory: ({ owner }) => {
          const d = createMemoryDriver({ kernel, owner })
          const p = d.persistence
          if (!p) throw new Error('the memory driver persists')
          let batching = false
          const restoreNetwork = p.restoreNetwork.bind(p)
          const restoreEndpoint = p.restoreEndpoint.bind(p)
          p.beginBatch = () => {
            batching = true
          }
          p.endBatch = () => {
            batching = false
          }
          p.restoreNetwork = (...a) => {
            seen.push(`network ${batching}`)
            return restoreNetwork(...a)
          }
          p.restoreEndpoint = (...a) => {
            seen.push(`endpoint ${batching}`)
            return restoreEndpoint(...a)
          }
          return d
        },
      },
    })
    try {
      expect(seen).toEqual(['network true', 'endpoint true'])
    } finally {
      await again.close()
    }
  })

  it("the stray pass's records are those of the store, restored or not", async () => {
    const first = await open()
    const net = await first.newNetwork(await first.newNetworkDriver('memory'), 'n1', {})
    await net.connect(await first.newSandbox('box'), 'ep', {})
    await first.close()
    const again = await open()
    try {
      const known = again.store.recordsOfType('memory')
      expect([...known.networks.keys()]).toEqual([again.networks()[0]?.id])
      expect([...known.endpoints.values()].map((e) => e.networkId)).toEqual([again.networks()[0]?.id])
      expect(again.store.recordsOfType('other')).toEqual({ networks: new Map(), endpoints: new Map() })
    } finally {
      await again.close()
    }
  })
})
