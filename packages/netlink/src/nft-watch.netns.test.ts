import { expect, it } from 'vitest'
import { nftGeneration } from './nft-generation.js'
import type { NftChange } from './nft-watch.js'
import { watchNftables } from './nft-watch.js'
import { describeKernel, requireProgram, run, useHostNetns } from './testing/index.js'

/** Waits (polling, up to `ms`) until `pick` finds a change. */
async function waitFor(changes: NftChange[], pick: (c: NftChange) => boolean, ms = 5000): Promise<NftChange> {
  const until = Date.now() + ms
  for (;;) {
    const found = changes.find(pick)
    if (found) return found
    if (Date.now() > until) throw new Error(`no such change in ${JSON.stringify(changes)}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

describeKernel('watching nf_tables changes (kernel)', () => {
  useHostNetns()

  it('reports each committed transaction: the tables it added to or deleted from, and who committed it', async () => {
    requireProgram('nft')
    const changes: NftChange[] = []
    const watch = watchNftables((c) => changes.push(c))
    try {
      run('nft', ['-f', '-'], {
        input: 'add table inet wt\nadd chain inet wt c\nadd rule inet wt c accept\nadd table ip other\n',
      })
      const added = await waitFor(changes, (c) => c.added.includes('inet wt'))
      expect(added).toMatchObject({ deleted: [], process: 'nft', overrun: false })
      expect(added.added.sort()).toEqual(['inet wt', 'ip other'])
      expect(added.pid).toBeGreaterThan(0)
      expect(added.pid).not.toBe(process.pid)
      run('nft', ['flush', 'chain', 'inet', 'wt', 'c'])
      expect(await waitFor(changes, (c) => c.deleted.length > 0)).toMatchObject({ deleted: ['inet wt'], added: [] })
      changes.length = 0
      run('nft', ['flush', 'ruleset'])
      const flushed = await waitFor(changes, (c) => c.deleted.length > 0)
      expect(flushed.deleted.sort()).toEqual(['inet wt', 'ip other'])
      expect(changes).toHaveLength(1) // one transaction, one change
    } finally {
      watch.close()
      run('nft', ['flush', 'ruleset'])
    }
  })

  it('reads the generation: the same until a transaction commits, then greater', async () => {
    requireProgram('nft')
    const before = await nftGeneration()
    expect(await nftGeneration()).toBe(before)
    run('nft', ['add', 'table', 'inet', 'gen'])
    const after = await nftGeneration()
    expect(after).toBeGreaterThan(before)
    run('nft', ['list', 'ruleset']) // reading changes nothing
    expect(await nftGeneration()).toBe(after)
    run('nft', ['delete', 'table', 'inet', 'gen'])
    expect(await nftGeneration()).toBeGreaterThan(after)
  })
})
