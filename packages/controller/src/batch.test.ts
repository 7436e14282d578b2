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
