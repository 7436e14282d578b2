import { createSocket } from 'node:dgram'
import { readdirSync, readFileSync } from 'node:fs'
import * as packet from 'dns-packet'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { query, sendRaw } from './dns.test-util.js'
import { createDnsServer, type DnsServer } from './server.js'
import { DEFAULT_LOOP_PRIORITY, LOOP_PRIORITY_IDLE, loopPriority, nativeUdpAvailable, openUdpLoop } from './udp-loop.js'

/** This process's threads named `cnm-dns-udp`: id → [nice, scheduling policy] (proc(5) stat). */
function loopThreads(): Map<string, [number, number]> {
  const threads = new Map<string, [number, number]>()
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
      if (!stat.includes('(cnm-dns-udp)')) continue
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ') // f[0] is field 3 (state)
      threads.set(tid, [Number(f[16]), Number(f[38])])
    } catch {
      // The thread ended meanwhile.
    }
  }
  return threads
}

/** The [nice, policy] of the one loop thread started by `open`, once it has set them. */
async function threadOf(open: () => { close(): void } | undefined): Promise<[number, number]> {
  const before = new Set(loopThreads().keys())
  const loop = open()
  try {
    for (let i = 0; i < 200; i++) {
      const started = [...loopThreads()].filter(([tid]) => !before.has(tid))
      // The thread names itself first, then lowers its priority: wait for a non-default value.
      const [, values] = started[0] ?? []
      if (values && (values[0] !== 0 || values[1] !== 0)) return values
      await new Promise((r) => setTimeout(r, 10))
    }
    throw new Error('no loop thread with a lowered priority')
  } finally {
    loop?.close()
  }
}

// The native UDP loop (native/udp-loop.c), on 127.0.0.1 with ports the kernel picks: no root
// needed. `pnpm install` builds the addon (the package's install script); CI runs these.
describe('the native UDP loop', () => {
  let server: DnsServer
  const at = (): { address: string; port: number } => ({ address: '127.0.0.1', port: server.port })

  beforeAll(async () => {
    expect(nativeUdpAvailable()).toBe(process.env.CNM_DNS_UDP !== 'node')
    server = await createDnsServer({ addresses: ['127.0.0.1'], port: 0, domain: 'cnm.internal', upstreams: [] })
    server.names.set({ id: 'e1', name: 'web', aliases: ['www'], addresses: ['10.1.0.2'] })
  })
  afterAll(async () => {
    await server?.close()
  })

  it.runIf(nativeUdpAvailable())(
    'answers a repeated query itself: the same bytes but the id, as the event loop first answered it',
    async () => {
      const first = await query(at(), 'web', 'A', { id: 1 })
      const before = server.stats()
      const answers = []
      for (let id = 2; id < 12; id++) answers.push(await query(at(), 'web', 'A', { id }))
      const after = server.stats()
      expect(after.udpNative - before.udpNative).toBe(10)
      expect(after.local - before.local).toBe(10)
      expect(after.queries - before.queries).toBe(10)
      for (const [i, a] of answers.entries()) {
        expect(a?.message.id).toBe(i + 2)
        expect(a?.message.answers).toEqual(first?.message.answers)
      }
      // A query of other bytes (another case, EDNS) goes to the event loop first, then natively too.
      const mixed = await query(at(), 'WEB', 'A', { edns: 1232 })
      expect(mixed?.message.questions?.[0]?.name).toBe('WEB')
      const n = server.stats().udpNative
      expect((await query(at(), 'WEB', 'A', { edns: 1232 }))?.message.answers?.[0]).toMatchObject({ data: '10.1.0.2' })
      expect(server.stats().udpNative).toBe(n + 1)
    },
  )

  it.runIf(nativeUdpAvailable())(
    'answers the queries asked for most anew when the names change, still natively, with the new names',
    async () => {
      for (let i = 0; i < 3; i++) await query(at(), 'www', 'A', { id: i })
      server.names.set({ id: 'e1', name: 'web', aliases: ['www'], addresses: ['10.1.0.9'] })
      try {
        const before = server.stats()
        const r = await query(at(), 'www', 'A', { id: 77 })
        expect(r?.message.id).toBe(77)
        expect(r?.message.answers?.[0]).toMatchObject({ data: '10.1.0.9' })
        expect(server.stats().udpNative - before.udpNative).toBe(1)
        expect(server.stats().queries - before.queries).toBe(1) // the rebuild is not counted as a query
      } finally {
        server.names.set({ id: 'e1', name: 'web', aliases: ['www'], addresses: ['10.1.0.2'] })
      }
      expect((await query(at(), 'www', 'A'))?.message.answers?.[0]).toMatchObject({ data: '10.1.0.2' })
    },
  )

  it('sees every change at the very next query, even for an answer it stored', async () => {
    for (let i = 0; i < 20; i++) {
      const address = `10.1.0.${10 + i}`
      server.names.set({ id: 'e2', name: 'db', addresses: [address] })
      expect((await query(at(), 'db', 'A', { id: i }))?.message.answers?.[0]).toMatchObject({ data: address })
      expect((await query(at(), 'db', 'A', { id: i }))?.message.answers?.[0]).toMatchObject({ data: address })
      server.names.delete('e2')
      expect((await query(at(), 'db', 'A', { id: i }))?.message.rcode).toBe('NXDOMAIN')
    }
  })

  it('keeps an answer seen by some clients only to those clients, before and after it is stored', async () => {
    server.names.set({ id: 'b:api', name: 'api', addresses: ['10.2.0.4'], clients: ['127.0.0.2'] })
    try {
      for (let i = 0; i < 3; i++) {
        expect((await query(at(), 'api', 'A', { from: '127.0.0.2', id: 5 }))?.message.rcode).toBe('NOERROR')
        expect((await query(at(), 'api', 'A', { from: '127.0.0.1', id: 5 }))?.message.rcode).toBe('NXDOMAIN')
      }
    } finally {
      server.names.delete('b:api')
    }
    expect((await query(at(), 'api', 'A', { from: '127.0.0.2', id: 5 }))?.message.rcode).toBe('NXDOMAIN')
  })

  it('hands garbage, responses and long queries to the event loop, which drops or answers them', async () => {
    const before = server.stats()
    const garbage = [Buffer.alloc(3), Buffer.alloc(600, 0xff)]
    const response = packet.encode({ id: 9, type: 'response', questions: [{ name: 'web', type: 'A' }] })
    for (const msg of [...garbage, response]) await sendRaw(at(), msg, 'udp', 300).catch(() => undefined)
    expect(server.stats().dropped - before.dropped).toBe(3)
    expect((await query(at(), 'www', 'A'))?.message.answers?.[0]).toMatchObject({ data: '10.1.0.2' })
  })

  it("reads the loop threads' priority from CNM_DNS_LOOP_PRIORITY, refusing anything but idle or 0-19", () => {
    expect(loopPriority({})).toBe(DEFAULT_LOOP_PRIORITY)
    expect(DEFAULT_LOOP_PRIORITY).toBe(0)
    expect(loopPriority({ CNM_DNS_LOOP_PRIORITY: 'idle' })).toBe(LOOP_PRIORITY_IDLE)
    expect(loopPriority({ CNM_DNS_LOOP_PRIORITY: '0' })).toBe(0)
    expect(loopPriority({ CNM_DNS_LOOP_PRIORITY: '19' })).toBe(19)
    for (const bad of ['20', '-1', '5; x', 'IDLE', '07x'])
      expect(() => loopPriority({ CNM_DNS_LOOP_PRIORITY: bad })).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_DNS_CONFIG', kind: 'invalid' }),
      )
  })

  it.runIf(nativeUdpAvailable())(
    'runs each loop on a thread of its own, below the event loop when asked: a nice value or SCHED_IDLE',
    async () => {
      const open = () => openUdpLoop('127.0.0.1', 4, 0, () => {})
      const saved = process.env.CNM_DNS_LOOP_PRIORITY
      try {
        process.env.CNM_DNS_LOOP_PRIORITY = '19'
        expect(await threadOf(open)).toEqual([19, 0]) // SCHED_OTHER (0) at nice 19
        process.env.CNM_DNS_LOOP_PRIORITY = 'idle'
        expect(await threadOf(open)).toEqual([0, 5]) // SCHED_IDLE (5): nice is not used
      } finally {
        if (saved === undefined) delete process.env.CNM_DNS_LOOP_PRIORITY
        else process.env.CNM_DNS_LOOP_PRIORITY = saved
      }
      // The event loop's own thread keeps its priority.
      const main = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8')
      expect(Number(main.slice(main.lastIndexOf(')') + 2).split(' ')[16])).toBeLessThan(19)
    },
  )

  it.runIf(nativeUdpAvailable())('binds like dgram: the port it picked, EADDRINUSE on a taken one', async () => {
    const taken = createSocket('udp4')
    await new Promise<void>((resolve) => taken.bind(0, '127.0.0.1', resolve))
    try {
      expect(() => openUdpLoop('127.0.0.1', 4, taken.address().port, () => {})).toThrow(
        expect.objectContaining({ code: 'EADDRINUSE' }),
      )
      await expect(
        createDnsServer({ addresses: ['127.0.0.1'], port: taken.address().port, upstreams: [] }),
      ).rejects.toMatchObject({ code: 'EADDRINUSE', message: expect.stringContaining('udp 127.0.0.1') })
    } finally {
      taken.close()
    }
    const loop = openUdpLoop('127.0.0.1', 4, 0, () => {})
    expect(loop?.port).toBeGreaterThan(0)
    loop?.close()
    loop?.close()
  })
})
