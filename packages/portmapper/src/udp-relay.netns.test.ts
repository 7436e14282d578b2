import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { describeKernel, useHostNetns } from '@cnm/netlink/testing'
import { expect, it } from 'vitest'
import { PortHolds, relayedUdpFlows, UDP_RELAY_IDLE_MS, UDP_RELAY_LIMIT } from './port-holds.js'

/** A UDP echo "container" on 127.0.0.2:port: answers `<port> <msg>` from the port asked. */
function echo(port: number): Promise<UdpSocket> {
  return new Promise((resolve) => {
    const s = createSocket('udp4')
    s.on('message', (m, r) => s.send(`${port} ${m}`, r.port, r.address))
    s.bind({ address: '127.0.0.2', port }, () => resolve(s))
  })
}

/** A client on `[::1]`, bound so its replies can be told apart. */
function client(): Promise<UdpSocket> {
  return new Promise((resolve) => {
    const s = createSocket('udp6')
    s.on('error', () => undefined)
    s.bind({ address: '::1', port: 0 }, () => resolve(s))
  })
}

/** Sends `msg` to `[::1]:port`: the reply and where it came from, or `none` within `ms`. */
function ask(c: UdpSocket, port: number, msg: string, ms = 500): Promise<string> {
  return new Promise((resolve) => {
    const done = (out: string): void => {
      clearTimeout(timer)
      c.off('message', onMessage)
      resolve(out)
    }
    const onMessage = (m: Buffer, r: { address: string; port: number }): void =>
      done(`${m} from [${r.address}]:${r.port}`)
    const timer = setTimeout(() => done('none'), ms)
    c.on('message', onMessage)
    c.send(msg, port, '::1')
  })
}

const until = async (ok: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms
  while (!ok() && Date.now() < end) await new Promise((r) => setTimeout(r, 20))
}

const container = (port: number) => ({ proto: 'udp' as const, ip: '127.0.0.2', port, endPort: port })
const host = (port: number) => ({ proto: 'udp' as const, ip: '::', port, endPort: port })

describeKernel('PortHolds UDP relay (kernel: a datagram to [::1] reaches the held port)', () => {
  useHostNetns()

  it('relays IPv6 loopback to the container, one flow per client, answers from the held port; none after release', async () => {
    expect(UDP_RELAY_LIMIT).toBe(256)
    expect(UDP_RELAY_IDLE_MS).toBe(30_000)
    const server = await echo(19500)
    const a = await client()
    const b = await client()
    const holds = new PortHolds()
    try {
      await holds.hold('u', host(18700), false, container(19500))
      for (const n of [1, 2, 3]) expect(await ask(a, 18700, `a${n}`)).toBe(`19500 a${n} from [::1]:18700`)
      const [ra, rb] = await Promise.all([ask(a, 18700, 'a4'), ask(b, 18700, 'b1')])
      expect([ra, rb]).toEqual(['19500 a4 from [::1]:18700', '19500 b1 from [::1]:18700'])
      expect(relayedUdpFlows()).toBe(2)
      holds.release('u')
      expect(relayedUdpFlows()).toBe(0)
      expect(await ask(a, 18700, 'after')).toBe('none')
    } finally {
      holds.releaseAll()
      for (const s of [server, a, b]) s.close()
    }
  })

  it('without a container nothing is answered, nor from anything but IPv6 loopback', async () => {
    const server = await echo(19501)
    const a = await client()
    const v4 = createSocket('udp4')
    const holds = new PortHolds()
    try {
      await holds.hold('n', host(18701), false)
      expect(await ask(a, 18701, 'x')).toBe('none')
      await holds.hold('v4', { ...host(18702), ip: '0.0.0.0' }, false, container(19501))
      const got = await new Promise<string>((resolve) => {
        const timer = setTimeout(() => resolve('none'), 500)
        v4.on('message', (m) => {
          clearTimeout(timer)
          resolve(String(m))
        })
        v4.send('stray', 18702, '127.0.0.1')
      })
      expect(got).toBe('none')
      expect(relayedUdpFlows()).toBe(0)
    } finally {
      holds.releaseAll()
      for (const s of [server, a, v4]) s.close()
    }
  })

  it('drops a new client past the limit; an idle flow is closed, freeing its place', async () => {
    const server = await echo(19502)
    const clients = await Promise.all([1, 2, 3].map(() => client()))
    const holds = new PortHolds(true, { limit: 2, idleMs: 300 })
    try {
      await holds.hold('l', host(18703), false, container(19502))
      expect(await ask(clients[0] as UdpSocket, 18703, 'c0')).toBe('19502 c0 from [::1]:18703')
      expect(await ask(clients[1] as UdpSocket, 18703, 'c1')).toBe('19502 c1 from [::1]:18703')
      expect(relayedUdpFlows()).toBe(2)
      expect(await ask(clients[2] as UdpSocket, 18703, 'c2', 200)).toBe('none') // past the limit
      expect(relayedUdpFlows()).toBe(2)
      await until(() => relayedUdpFlows() === 0) // both idle for 300 ms
      expect(relayedUdpFlows()).toBe(0)
      expect(await ask(clients[2] as UdpSocket, 18703, 'c2')).toBe('19502 c2 from [::1]:18703')
      // A flow kept busy stays: each datagram either way restarts its idle time.
      for (let i = 0; i < 5; i++) {
        expect(await ask(clients[2] as UdpSocket, 18703, `k${i}`)).toBe(`19502 k${i} from [::1]:18703`)
        await new Promise((r) => setTimeout(r, 150))
      }
      expect(relayedUdpFlows()).toBe(1)
    } finally {
      holds.releaseAll()
      server.close()
      for (const c of clients) c.close()
    }
  })
})
