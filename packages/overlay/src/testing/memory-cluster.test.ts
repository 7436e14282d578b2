import type { KVEvent, LeaseEvent } from '@cnm/driverapi'
import { describe, expect, it } from 'vitest'
import { createMemoryCluster } from './memory-cluster.js'

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 0))

describe('the in-memory cluster store', () => {
  it('commits a transaction only when every condition holds, and revisions grow', async () => {
    const mc = createMemoryCluster()
    const { kv } = mc.connect('h1', '192.0.2.1')
    expect(await kv.putIfAbsent('/cnm/a', '1')).toBe(true)
    expect(await kv.putIfAbsent('/cnm/a', '2')).toBe(false)
    const a = await kv.get('/cnm/a')
    expect(a?.value).toBe('1')
    expect(await kv.txn([{ key: '/cnm/a', modRevision: '0' }], [{ put: '/cnm/a', value: 'x' }])).toBe(false)
    expect(await kv.txn([{ key: '/cnm/a', modRevision: a?.modRevision ?? '' }], [{ put: '/cnm/a', value: '3' }])).toBe(
      true,
    )
    expect(await kv.txn([{ key: '/cnm/a', value: '1' }], [{ put: '/cnm/a', value: 'y' }])).toBe(false)
    expect(await kv.txn([{ key: '/cnm/none', value: '3' }], [{ put: '/cnm/a', value: 'y' }])).toBe(false)
    expect(await kv.txn([{ key: '/cnm/a', value: '3' }], [{ put: '/cnm/a', value: '3' }])).toBe(true)
    expect(await kv.txn([{ prefix: '/cnm/', empty: true }], [{ delete: '/cnm/a' }])).toBe(false)
    expect(await kv.txn([{ key: '/cnm/a', present: true }], [{ deletePrefix: '/cnm/' }])).toBe(true)
    expect((await kv.range('/cnm/')).entries).toEqual([])
  })

  it('delivers changes under a prefix in order, and deletes a host’s leased keys when its lease expires', async () => {
    const mc = createMemoryCluster()
    const h1 = mc.connect('h1', '192.0.2.1')
    const h2 = mc.connect('h2', '192.0.2.2')
    const seen: KVEvent[] = []
    const lease: LeaseEvent[] = []
    h2.kv.onLease((e) => lease.push(e))
    const stop = await h1.kv.watch('/cnm/x/', (e) => seen.push(e))
    await h2.kv.txn(
      [],
      [
        { put: '/cnm/x/1', value: 'a', lease: 'host' },
        { put: '/cnm/x/2', value: 'b' },
      ],
    )
    await h2.kv.txn([], [{ put: '/cnm/y/1', value: 'not watched' }])
    await tick()
    expect(seen.map((e) => [e.type, e.key])).toEqual([
      ['put', '/cnm/x/1'],
      ['put', '/cnm/x/2'],
    ])
    mc.expire('h2', { regrant: false })
    await tick()
    expect(seen.at(-1)).toMatchObject({ type: 'delete', key: '/cnm/x/1' })
    expect([...mc.dump().keys()].sort()).toEqual(['/cnm/x/2', '/cnm/y/1'])
    expect(lease).toEqual(['lost'])
    mc.grant('h2')
    expect(lease).toEqual(['lost', 'granted'])
    await stop()
    await h2.kv.delete('/cnm/x/2')
    await tick()
    expect(seen.at(-1)?.key).toBe('/cnm/x/1') // stopped: nothing more
  })
})
