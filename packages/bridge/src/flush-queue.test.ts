import type { ConntrackMatch } from '@cnm/netlink'
import { describe, expect, it } from 'vitest'
import { createFlushQueue } from './flush-queue.js'

const m = (address: string): ConntrackMatch => ({ address })

describe('createFlushQueue', () => {
  it('runs one flush at a time, and every flush asked meanwhile in the next one', async () => {
    const runs: string[][] = []
    let finish = (): void => undefined
    const q = createFlushQueue(async (matches) => {
      runs.push(matches.map((x) => x.address as string))
      if (runs.length === 1) await new Promise<void>((resolve) => (finish = resolve))
    })
    const first = q.add([m('10.0.0.2')])
    await Promise.resolve() // the first batch started
    const second = q.add([m('10.0.0.3')])
    const third = q.add([m('10.0.0.4'), m('10.0.0.5')])
    expect(runs).toEqual([['10.0.0.2']])
    finish()
    await Promise.all([first, second, third])
    expect(runs).toEqual([['10.0.0.2'], ['10.0.0.3', '10.0.0.4', '10.0.0.5']])
    await q.add([m('10.0.0.6')])
    expect(runs).toHaveLength(3)
  })

  it("gives a failed flush's error to each flush it carried; the next batch runs", async () => {
    let fail = true
    const q = createFlushQueue(async () => {
      if (fail) throw new Error('EPERM')
    })
    const a = q.add([m('10.0.0.2')])
    const b = q.add([m('10.0.0.3')]) // the same batch (not started yet)
    await expect(a).rejects.toThrow('EPERM')
    await expect(b).rejects.toThrow('EPERM')
    fail = false
    await expect(q.add([m('10.0.0.4')])).resolves.toBeUndefined()
  })

  it('runs nothing for no matches', async () => {
    let ran = 0
    const q = createFlushQueue(async () => {
      ran++
    })
    await q.add([])
    expect(ran).toBe(0)
  })
})
