import { connect, type Socket } from 'node:net'
import * as packet from 'dns-packet'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDnsServer, type DnsServer } from './server.js'
import { frame } from './tcp-frames.js'

// The TCP limits on loopback (no root): per-client cap closing the longest idle connection, the
// deadline of a started message, the idle timeout from the last complete message.
describe('DNS over TCP limits (loopback)', () => {
  let server: DnsServer

  beforeAll(async () => {
    server = await createDnsServer({
      addresses: ['127.0.0.1'],
      port: 0,
      upstreams: [],
      maxTcpPerClient: 2,
      tcpFrameMs: 300,
      tcpIdleMs: 1500,
    })
    server.names.set({ id: 'web', name: 'web', addresses: ['10.1.0.2'] })
  })
  afterAll(async () => {
    await server?.close()
  })

  const open = (): Promise<Socket & { closedAt?: number }> =>
    new Promise((resolve, reject) => {
      const c: Socket & { closedAt?: number } = connect(server.port, '127.0.0.1', () => resolve(c))
      c.on('error', reject)
      c.on('close', () => {
        c.closedAt = performance.now()
      })
    })
  const ask = (c: Socket): Promise<packet.Packet> =>
    new Promise((resolve) => {
      c.once('data', (d: Buffer) => resolve(packet.decode(d.subarray(2))))
      c.write(frame(packet.encode({ id: 1, type: 'query', questions: [{ name: 'web', type: 'A' }] })))
    })
  const closed = async (c: { closedAt?: number }, ms: number): Promise<boolean> => {
    const end = performance.now() + ms
    while (c.closedAt === undefined && performance.now() < end) await new Promise((r) => setTimeout(r, 20))
    return c.closedAt !== undefined
  }

  it('a client past its cap loses its longest idle connection, not the new one', async () => {
    const a = await open()
    const b = await open()
    await ask(b) // b is newer and has a complete message: a is the longest idle
    const c = await open()
    expect(await closed(a, 2000)).toBe(true)
    expect((await ask(c)).answers?.[0]).toMatchObject({ data: '10.1.0.2' })
    expect(b.closedAt).toBeUndefined()
    b.destroy()
    c.destroy()
  })

  it('closes a connection whose started message does not complete in time, however it trickles', async () => {
    const c = await open()
    const started = performance.now()
    const trickle = setInterval(() => c.write(Buffer.from([0xff])), 50)
    c.write(Buffer.from([0xff]))
    try {
      expect(await closed(c, 3000)).toBe(true)
      // The frame deadline (300 ms), not the idle timeout (1500 ms).
      expect((c.closedAt ?? 0) - started).toBeLessThan(1200)
    } finally {
      clearInterval(trickle)
      c.destroy()
    }
  })

  it('counts the idle timeout from the last complete message', async () => {
    const c = await open()
    await ask(c)
    const last = performance.now()
    expect(await closed(c, 4000)).toBe(true)
    expect((c.closedAt ?? 0) - last).toBeGreaterThanOrEqual(1400)
  })
})
