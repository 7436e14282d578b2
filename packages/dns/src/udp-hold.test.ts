import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { query } from './dns.test-util.js'
import { createDnsServer, type DnsServer } from './server.js'
import { HOLD_MAX_MS, holdUdpLoops, nativeUdpAvailable } from './udp-loop.js'

/** Sends a query for `web` and resolves with the time its answer came (performance.now()). */
async function answeredAt(server: { address: string; port: number }): Promise<number> {
  const r = await query(server, 'web.cnm.internal', 'A', { timeoutMs: 5000 })
  expect(r?.message.answers?.[0]).toMatchObject({ type: 'A', data: '10.1.0.2' })
  return performance.now()
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

// The control plane's hold on the native UDP loops (native/udp-loop.c, `holdUdpLoops`), on
// 127.0.0.1 with a port the kernel picks: no root needed. Times are compared with bounds that only
// a loop ignoring the hold could break (an answer can never come before the release, nor before the
// hold's bound), so a slow machine cannot make them fail.
describe.runIf(nativeUdpAvailable())('holding the native UDP loops', () => {
  let server: DnsServer
  const at = (): { address: string; port: number } => ({ address: '127.0.0.1', port: server.port })

  beforeAll(async () => {
    server = await createDnsServer({ addresses: ['127.0.0.1'], port: 0, domain: 'cnm.internal', upstreams: [] })
    server.names.set({ id: 'e1', name: 'web', aliases: [], addresses: ['10.1.0.2'] })
    await answeredAt(at()) // stored in the loop's table: the next ones are answered by the loop itself
  })
  afterAll(async () => {
    await server?.close()
  })

  it('answers nothing while held, and every query that came meanwhile once released', async () => {
    const heldBefore = server.stats().udpHeld
    const release = holdUdpLoops()
    const heldAt = performance.now()
    let releasedAt = Number.POSITIVE_INFINITY
    try {
      const answers = [answeredAt(at()), answeredAt(at()), answeredAt(at())]
      await sleep(30)
      releasedAt = performance.now()
      release()
      for (const t of await Promise.all(answers)) {
        // Not before the release, unless the hold outlived its bound first (a very slow machine).
        expect(t >= releasedAt || t - heldAt >= HOLD_MAX_MS - 2).toBe(true)
      }
    } finally {
      release()
    }
    expect(server.stats().udpHeld).toBeGreaterThan(heldBefore)
    // Released: answered at once again.
    await answeredAt(at())
  })

  it('lets the loops go on after HOLD_MAX_MS when a hold is never released, and counts it', async () => {
    const expired = (): number => server.stats().udpHoldsExpired
    const before = expired()
    const release = holdUdpLoops()
    const heldAt = performance.now()
    try {
      const t = await answeredAt(at())
      expect(t - heldAt).toBeGreaterThanOrEqual(HOLD_MAX_MS - 2)
      expect(expired()).toBeGreaterThan(before)
    } finally {
      release()
    }
  })

  it('nests holds, and a release function called twice ends only its own hold', async () => {
    const first = holdUdpLoops()
    const second = holdUdpLoops()
    const heldAt = performance.now()
    let secondAt = Number.POSITIVE_INFINITY
    try {
      first()
      first() // a second call is a no-op: `second` still holds the loops
      const answer = answeredAt(at())
      await sleep(30)
      secondAt = performance.now()
      second()
      const t = await answer
      expect(t >= secondAt || t - heldAt >= HOLD_MAX_MS - 2).toBe(true)
    } finally {
      first()
      second()
    }
  })

  it('is a no-op with CNM_DNS_HOLD=0', async () => {
    const heldBefore = server.stats().udpHeld
    const release = holdUdpLoops({ CNM_DNS_HOLD: '0' })
    try {
      await answeredAt(at())
      await answeredAt(at())
      expect(server.stats().udpHeld).toBe(heldBefore) // no batch waited
    } finally {
      release()
    }
  })
})
