import { describe, expect, it } from 'vitest'
import { endpointKey } from './cluster-keys.js'
import { createMemoryCluster } from './testing/memory-cluster.js'
import { claimVni, releaseVni } from './vni.js'

describe('VNIs in the cluster', () => {
  it('gives each network its own VNI from 4096, the same one on every host, whatever the timing', async () => {
    const mc = createMemoryCluster()
    const [a, b] = [mc.connect('h1', '192.0.2.1'), mc.connect('h2', '192.0.2.2')]
    const nids = Array.from({ length: 20 }, (_, i) => `network${String(i).padStart(6, '0')}`)
    // Two hosts create the same 20 networks at once.
    const [fromA, fromB] = await Promise.all([
      Promise.all(nids.map((n) => claimVni(a, n, undefined))),
      Promise.all(nids.map((n) => claimVni(b, n, undefined))),
    ])
    expect(fromA).toEqual(fromB)
    expect(new Set(fromA).size).toBe(20)
    expect(Math.min(...fromA)).toBeGreaterThanOrEqual(4096)
    expect(Math.max(...fromA)).toBeLessThan(4096 + 64)
  })

  it('honours a VNI asked for, refuses one in use, frees it with the last endpoint', async () => {
    const mc = createMemoryCluster()
    const c = mc.connect('h1', '192.0.2.1')
    expect(await claimVni(c, 'networkaaaaaa', 77)).toBe(77)
    await expect(claimVni(c, 'networkbbbbbb', 77)).rejects.toMatchObject({ code: 'ERR_VNI_UNAVAILABLE' })
    await expect(claimVni(c, 'networkaaaaaa', 78)).rejects.toMatchObject({ code: 'ERR_VNI_UNAVAILABLE' })
    await c.kv.txn([], [{ put: endpointKey(c, 'networkaaaaaa', 'e1'), value: '{}', lease: 'host' }])
    expect(await releaseVni(c, 'networkaaaaaa', 77)).toBe(false) // an endpoint somewhere: it stays
    mc.expire('h1')
    expect(await releaseVni(c, 'networkaaaaaa', 77)).toBe(true)
    expect(await claimVni(c, 'networkbbbbbb', 77)).toBe(77)
  })
})
