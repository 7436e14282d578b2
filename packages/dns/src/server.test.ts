import { createSocket } from 'node:dgram'
import { connect } from 'node:net'
import * as packet from 'dns-packet'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { query, sendRaw, startUpstream, type Upstream } from './dns.test-util.js'
import { createDnsServer, type DnsServer } from './server.js'
import { frame } from './tcp-frames.js'

// Sockets on 127.0.0.1 only, with ports the kernel picks: no root needed. The kernel tests
// (dns.netns.test.ts) run the same server on a bridge's gateway with dig, getent and busybox.
describe('createDnsServer (loopback)', () => {
  let upstream: Upstream
  let server: DnsServer
  const at = (): { address: string; port: number } => ({ address: '127.0.0.1', port: server.port })

  beforeAll(async () => {
    upstream = await startUpstream({ records: { 'forwarded.example': '192.0.2.80' } })
    server = await createDnsServer({
      addresses: ['127.0.0.1'],
      port: 0,
      domain: 'cnm.internal',
      subnets: ['10.1.0.0/24'],
      anyClient: true, // its clients are on 127.0.0.0/8, outside the subnet it answers PTR for
      upstreams: [`127.0.0.1:${upstream.port}`],
      forwardTimeoutMs: 800,
    })
    server.names.set({ id: 'e1', name: 'web', aliases: ['www'], addresses: ['10.1.0.2', 'fd00:1::2'] })
  })
  afterAll(async () => {
    await server?.close()
    await upstream?.close()
  })

  it('answers its names over UDP and TCP, authoritative, with the id and question case of the query', async () => {
    for (const proto of ['udp', 'tcp'] as const) {
      const r = await query(at(), 'Web.CNM.internal', 'A', { proto, id: 4242 })
      expect(r?.message).toMatchObject({ id: 4242, rcode: 'NOERROR', flag_aa: true, flag_rd: true, flag_ra: true })
      expect(r?.message.questions).toEqual([{ name: 'Web.CNM.internal', type: 'A', class: 'IN' }])
      expect(r?.message.answers).toMatchObject([{ type: 'A', name: 'Web.CNM.internal', data: '10.1.0.2', ttl: 60 }])
    }
    // Cached answers get each query's own id.
    const again = await query(at(), 'Web.CNM.internal', 'A', { id: 7 })
    expect(again?.message.id).toBe(7)
  })

  it('sees a change of the names at the very next query', async () => {
    server.names.set({ id: 'e2', name: 'db', addresses: ['10.1.0.3'] })
    expect((await query(at(), 'db', 'A'))?.message.answers?.[0]).toMatchObject({ data: '10.1.0.3' })
    server.names.delete('e2')
    expect((await query(at(), 'db', 'A'))?.message.rcode).toBe('NXDOMAIN')
  })

  it('answers an entry with `clients` to those addresses only, also from its cache', async () => {
    server.names.set({ id: 'b:db', name: 'db', addresses: ['10.2.0.3'], clients: ['127.0.0.2'] })
    try {
      for (const proto of ['udp', 'tcp'] as const) {
        const seen = await query(at(), 'db', 'A', { proto, from: '127.0.0.2', id: 1 })
        expect(seen?.message.answers?.[0]).toMatchObject({ data: '10.2.0.3' })
        expect((await query(at(), 'db', 'A', { proto, from: '127.0.0.1', id: 1 }))?.message.rcode).toBe('NXDOMAIN')
        expect((await query(at(), 'db', 'A', { proto, from: '127.0.0.2', id: 1 }))?.message.rcode).toBe('NOERROR')
      }
      expect((await query(at(), 'web', 'A', { from: '127.0.0.1' }))?.message.rcode).toBe('NOERROR')
    } finally {
      server.names.delete('b:db')
    }
  })

  it('answers the OPT record of an EDNS client, and BADVERS for a version it does not speak', async () => {
    const r = await query(at(), 'web', 'A', { edns: 4096 })
    const opt = r?.message.additionals?.find((a) => a.type === 'OPT') as packet.OptAnswer
    expect(opt).toMatchObject({ udpPayloadSize: 1232, ednsVersion: 0 })
    const bad = await query(at(), 'web', 'A', { edns: 4096, ednsVersion: 1 })
    const badOpt = bad?.message.additionals?.find((a) => a.type === 'OPT') as packet.OptAnswer
    expect(badOpt.extendedRcode).toBe(1) // BADVERS = 16 = 1 << 4
    expect(bad?.message.answers).toEqual([])
    expect((await query(at(), 'web', 'A'))?.message.additionals).toEqual([])
  })

  it('forwards what is not its own, over UDP and TCP', async () => {
    for (const proto of ['udp', 'tcp'] as const) {
      const r = await query(at(), 'forwarded.example', 'A', { proto })
      expect(r?.message).toMatchObject({ rcode: 'NOERROR', flag_aa: false })
      expect(r?.message.answers?.[0]).toMatchObject({ data: '192.0.2.80' })
    }
    expect(upstream.seen).toEqual(expect.arrayContaining(['forwarded.example/A/udp', 'forwarded.example/A/tcp']))
    expect((await query(at(), 'nosuch.example', 'A'))?.message.rcode).toBe('NXDOMAIN')
    expect(upstream.seen.some((s) => s.startsWith('web') || s.startsWith('nosuch/'))).toBe(false)
  })

  it('passes truncation on: TC over UDP without a large enough EDNS size, the whole answer over TCP', async () => {
    const small = await query(at(), 'big.example', 'TXT')
    expect(small?.message.flag_tc).toBe(true)
    expect(small?.size).toBeLessThanOrEqual(512)
    const edns = await query(at(), 'big.example', 'TXT', { edns: 8192 })
    expect(edns?.message.flag_tc).toBe(false)
    expect(edns?.message.answers).toHaveLength(12)
    const tcp = await query(at(), 'big.example', 'TXT', { proto: 'tcp' })
    expect(tcp?.message.answers).toHaveLength(12)
    expect(server.stats().truncated).toBe(0) // the upstream truncated; the server passed it on
  })

  it('cuts its own answers that do not fit 512 bytes to TC', async () => {
    const addresses = Array.from({ length: 40 }, (_, i) => `fd00:1::${(i + 16).toString(16)}`)
    server.names.set({ id: 'many', name: 'many', addresses })
    const udp = await query(at(), 'many', 'AAAA')
    expect(udp?.message).toMatchObject({ flag_tc: true, answers: [] })
    const tcp = await query(at(), 'many', 'AAAA', { proto: 'tcp' })
    expect(tcp?.message.answers).toHaveLength(40)
    server.names.delete('many')
  })

  it('refuses what it does not do: FORMERR for two questions, NOTIMP for another opcode', async () => {
    const two = packet.encode({
      id: 1,
      type: 'query',
      questions: [
        { name: 'web', type: 'A' },
        { name: 'www', type: 'A' },
      ],
    })
    expect(packet.decode((await sendRaw(at(), two, 'udp')) as Buffer)).toMatchObject({ rcode: 'FORMERR', id: 1 })
    const notify = packet.encode({ id: 2, type: 'query', flags: 4 << 11, questions: [{ name: 'web', type: 'SOA' }] })
    expect(packet.decode((await sendRaw(at(), notify, 'udp')) as Buffer)).toMatchObject({ rcode: 'NOTIMP', id: 2 })
  })

  it('drops garbage and responses, and keeps answering', async () => {
    const before = server.stats().dropped
    const junk = [Buffer.alloc(0), Buffer.from([1, 2, 3]), Buffer.alloc(12, 0xff), Buffer.from('not dns at all, no')]
    const response = packet.encode({ id: 3, type: 'response', questions: [{ name: 'web', type: 'A' }] })
    for (const b of [...junk, response]) expect(await sendRaw(at(), b, 'udp', 150)).toBeUndefined()
    expect(server.stats().dropped).toBeGreaterThanOrEqual(before + 4)
    expect((await query(at(), 'web', 'A'))?.message.rcode).toBe('NOERROR')
  })

  it('closes a TCP stream that carries garbage, answers a 64 KB query, and survives a half-sent one', async () => {
    const big = packet.encode({
      id: 9,
      type: 'query',
      questions: [{ name: 'web', type: 'A' }],
      additionals: [
        {
          type: 'OPT',
          name: '.',
          udpPayloadSize: 4096,
          flags: 0,
          options: [{ code: 12, data: Buffer.alloc(65535 - 12 - 7 - 11 - 4 - 2) }],
        } as packet.Answer,
      ],
    })
    expect(big.length).toBe(65535)
    const r = packet.decode((await sendRaw(at(), big, 'tcp')) as Buffer)
    expect(r).toMatchObject({ id: 9, rcode: 'NOERROR' })
    // Garbage inside a frame: the connection is closed, nothing answered.
    expect(await sendRaw(at(), Buffer.alloc(300, 0xee), 'tcp', 500)).toBeUndefined()
    // A frame that announces 65535 bytes and stops: the server waits, and other clients are served.
    const half = connect({ host: '127.0.0.1', port: server.port })
    await new Promise<void>((resolve) => half.once('connect', () => resolve()))
    half.write(frame(Buffer.alloc(65535)).subarray(0, 1000))
    expect((await query(at(), 'web', 'A', { proto: 'tcp' }))?.message.rcode).toBe('NOERROR')
    half.destroy()
  })

  it('answers SERVFAIL within 2 s when the upstream does not answer, and local names meanwhile', async () => {
    const hole = await startUpstream({ silent: true })
    const s = await createDnsServer({ addresses: ['127.0.0.1'], port: 0, upstreams: [`127.0.0.1:${hole.port}`] })
    s.names.set({ id: 'e1', name: 'web', addresses: ['10.1.0.2'] })
    try {
      const t0 = Date.now()
      const pending = query({ address: '127.0.0.1', port: s.port }, 'slow.example', 'A', { timeoutMs: 4000 })
      const local = await query({ address: '127.0.0.1', port: s.port }, 'web', 'A')
      expect(local?.message.rcode).toBe('NOERROR')
      const r = await pending
      const took = Date.now() - t0
      expect(r?.message.rcode).toBe('SERVFAIL')
      expect(took).toBeLessThan(2000)
      expect(took).toBeGreaterThanOrEqual(1400)
      expect(hole.seen.length).toBeGreaterThanOrEqual(2) // retried within the budget
    } finally {
      await s.close()
      await hole.close()
    }
  })

  it('closes with forwards in flight, over UDP and TCP, without an error', async () => {
    const hole = await startUpstream({ silent: true })
    const s = await createDnsServer({ addresses: ['127.0.0.1'], port: 0, upstreams: [`127.0.0.1:${hole.port}`] })
    const at = { address: '127.0.0.1', port: s.port }
    const pending = [
      query(at, 'a.example', 'A', { timeoutMs: 800 }),
      query(at, 'b.example', 'A', { proto: 'tcp', timeoutMs: 800 }),
    ]
    await new Promise((r) => setTimeout(r, 100))
    expect(s.stats().inFlight).toBe(2)
    await s.close()
    await Promise.all(pending)
    expect(s.stats().inFlight).toBe(0)
    await hole.close()
  })

  it('answers SERVFAIL at once when the upstream refuses, REFUSED when it does not forward', async () => {
    const gone = await startUpstream()
    const port = gone.port
    await gone.close()
    const s = await createDnsServer({ addresses: ['127.0.0.1'], port: 0, upstreams: [`127.0.0.1:${port}`] })
    const internal = await createDnsServer({ addresses: ['127.0.0.1'], port: 0, forward: false })
    try {
      const t0 = Date.now()
      expect((await query({ address: '127.0.0.1', port: s.port }, 'x.example', 'A'))?.message.rcode).toBe('SERVFAIL')
      expect(Date.now() - t0).toBeLessThan(500)
      const r = await query({ address: '127.0.0.1', port: internal.port }, 'x.example', 'A')
      expect(r?.message).toMatchObject({ rcode: 'REFUSED', flag_ra: false })
    } finally {
      await s.close()
      await internal.close()
    }
  })

  it('survives a flood of queries and keeps answering its names', async () => {
    const sock = createSocket('udp4')
    const got = { n: 0 }
    sock.on('message', () => got.n++)
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()))
    const msgs = Array.from({ length: 200 }, (_, i) =>
      packet.encode({ id: i, type: 'query', questions: [{ name: i % 2 ? `r${i}.example` : `n${i}`, type: 'A' }] }),
    )
    for (let round = 0; round < 25; round++) {
      for (const m of msgs) sock.send(m, server.port, '127.0.0.1')
      await new Promise((r) => setImmediate(r))
    }
    // Another client: the flooding one has spent its budget of misses (the native loop's). Its
    // query can still be lost in the kernel behind the flood (the socket's receive buffer full),
    // so it asks again as a resolver does (three tries of a second).
    let answer: Awaited<ReturnType<typeof query>>
    for (let attempt = 0; attempt < 3 && !answer; attempt++) {
      answer = await query(at(), 'www', 'A', { from: '127.0.0.2', timeoutMs: 1000 })
    }
    expect(answer?.message.answers?.[0]).toMatchObject({ data: '10.1.0.2' })
    await new Promise((r) => setTimeout(r, 300))
    sock.close()
    expect(got.n).toBeGreaterThan(0)
    expect(server.stats().inFlight).toBeLessThanOrEqual(1024)
  })

  it('refuses bad options before opening anything, and a taken port with its errno', async () => {
    await expect(createDnsServer({ addresses: [] })).rejects.toMatchObject({ code: 'ERR_INVALID_DNS_CONFIG' })
    await expect(createDnsServer({ addresses: ['10.1.0.300'] })).rejects.toMatchObject({
      code: 'ERR_INVALID_DNS_CONFIG',
    })
    await expect(createDnsServer({ addresses: ['127.0.0.1'], port: 70000 })).rejects.toMatchObject({
      code: 'ERR_INVALID_DNS_CONFIG',
    })
    await expect(createDnsServer({ addresses: ['127.0.0.1'], domain: 'a b' })).rejects.toMatchObject({
      code: 'ERR_INVALID_DNS_NAME',
    })
    await expect(createDnsServer({ addresses: ['127.0.0.1'], port: server.port, upstreams: [] })).rejects.toMatchObject(
      {
        code: 'EADDRINUSE',
        kind: 'conflict',
        message: expect.stringContaining(`127.0.0.1:${server.port}`),
      },
    )
  })

  it('renders the resolv.conf of a sandbox on its network, and is closed once', async () => {
    const s = await createDnsServer({ addresses: ['127.0.0.1'], port: 0, domain: 'net1.cnm', upstreams: [] })
    expect(s.sandboxResolvConf()).toEqual({ nameservers: ['127.0.0.1'], search: ['net1.cnm'], options: [] })
    await Promise.all([s.close(), s.close()])
    expect(() => s.sandboxResolvConf()).toThrow(
      expect.objectContaining({ code: 'ERR_DNS_SERVER_CLOSED', kind: 'unavailable' }),
    )
    // The port is free again.
    const again = await createDnsServer({ addresses: ['127.0.0.1'], port: s.port, upstreams: [] })
    await again.close()
  })
})
