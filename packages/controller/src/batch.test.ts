import type { Driver } from '@cnm/driverapi'
import { describe, expect, it } from 'vitest'
import { inBatch } from './batch.js'
import type { Core } from './core.js'

function core(): { core: Core; calls: string[] } {
  const calls: string[] = []
  const driver = (name: string, batches: boolean): Driver =>
    ({
      name,
      persistence: batches
        ? { beginBatch: () => calls.push(`begin ${name}`), endBatch: () => calls.push(`end ${name}`) }
        : {},
    }) as unknown as Driver
  const drivers = new Map([
    ['bridge', driver('bridge', true)],
    ['null', { name: 'null' } as unknown as Driver],
    ['macvlan', driver('macvlan', false)],
  ])
  return { core: { drivers } as unknown as Core, calls }
}

describe('inBatch', () => {
  it('brackets the work for every driver that batches, once however deep the calls nest', async () => {
    const { core: c, calls } = core()
    const value = await inBatch(c, async () => {
      calls.push('work')
      return inBatch(c, async () => {
        calls.push('nested')
        return 42
      })
    })
    expect(value).toBe(42)
    expect(calls).toEqual(['begin bridge', 'work', 'nested', 'end bridge'])
  })

  it('brings a driver made during the batch into it at the next nested call, and ends it with the batch', async () => {
    // A start-up: the reconcile's batch begins before its sync has made the store's drivers.
    const calls: string[] = []
    const c = { drivers: new Map<string, Driver>() } as unknown as Core
    const bridge = {
      name: 'bridge',
      persistence: { beginBatch: () => calls.push('begin bridge'), endBatch: () => calls.push('end bridge') },
    } as unknown as Driver
    await inBatch(c, async () => {
      calls.push('reconcile')
      c.drivers.set('bridge', bridge) // the sync's ensureDrivers
      await inBatch(c, async () => {
        calls.push('restore')
      })
      await inBatch(c, async () => {
        calls.push('strays')
      })
      calls.push('after the sync')
    })
    expect(calls).toEqual(['reconcile', 'begin bridge', 'restore', 'strays', 'after the sync', 'end bridge'])
  })

  it('ends the batch when the work fails, and a later batch begins again', async () => {
    const { core: c, calls } = core()
    await expect(
      inBatch(c, async () => {
        await inBatch(c, async () => {
          throw new Error('restore failed')
        })
      }),
    ).rejects.toThrow('restore failed')
    await inBatch(c, async () => undefined)
    expect(calls).toEqual(['begin bridge', 'end bridge', 'begin bridge', 'end bridge'])
  })
})
