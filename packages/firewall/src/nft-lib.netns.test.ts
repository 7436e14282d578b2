import { describeKernel, useHostNetns } from '@cnm/netlink/testing'
import { expect, it } from 'vitest'
import { runNftInProcess } from './nft-lib.js'

// libnftables in process: a context holds one output buffer, so commands on it run one at a time
// even when callers do not wait for each other (a batch's early read of the table beside a write
// and another read).
describeKernel('nft in process: commands on one context at once (kernel)', () => {
  useHostNetns()

  it('gives every caller its own whole output when many run at once', async () => {
    const apply = (script: string) => runNftInProcess(['-f', '-'], script)
    const setup = apply(
      [
        'add table inet cnmlibtest',
        ...Array.from({ length: 40 }, (_, i) => `add chain inet cnmlibtest c${i}`),
        ...Array.from({ length: 40 }, (_, i) => `add rule inet cnmlibtest c${i} tcp dport ${10000 + i} accept`),
      ].join('\n'),
    )
    if (setup === undefined) return // no libnftables here: nft is spawned, one process per command
    expect((await setup).status).toBe(0)
    try {
      const reads = Array.from({ length: 12 }, () => runNftInProcess(['-j', 'list', 'table', 'inet', 'cnmlibtest']))
      const writes = Array.from({ length: 6 }, (_, i) => apply(`add chain inet cnmlibtest extra${i}`))
      const results = await Promise.all([...reads, ...writes])
      for (const r of results) expect(r?.status).toBe(0)
      for (const r of results.slice(0, reads.length)) {
        const parsed = JSON.parse(r?.stdout ?? '') as { nftables: unknown[] }
        expect(parsed.nftables.length).toBeGreaterThan(40)
      }
    } finally {
      await apply('delete table inet cnmlibtest')
    }
  })
})
