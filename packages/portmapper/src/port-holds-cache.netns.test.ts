import { createServer } from 'node:net'
import { type BoundPort, openHandle } from '@cnm/netlink'
import { Agent, describeKernel, useHostNetns } from '@cnm/netlink/testing'
import { expect, it } from 'vitest'
import type { BoundIndex } from './bound-index.js'
import { foreignBoundPorts, PortHolds, socketsInUse } from './port-holds.js'

/**
 * The read of the socket tables behind publishing (issue 21): it serves many requests while no
 * other socket came or went (a restore maps thousands of ports with one read), and is read again
 * the moment another process binds or releases a port — no second of stale answers either way.
 */
describeKernel('foreignBoundPorts: one read while nothing changed, a new one as soon as it did (kernel)', () => {
  useHostNetns()

  it('socketsInUse follows sockets as they come and go (its files are kept open between reads)', async () => {
    const before = socketsInUse('tcp') ?? Number.NaN
    const udpBefore = socketsInUse('udp') ?? Number.NaN
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(18305, '127.0.0.1', resolve))
    expect(socketsInUse('tcp')).toBe(before + 1)
    expect(socketsInUse('udp')).toBe(udpBefore)
    await new Promise((resolve) => server.close(resolve))
    expect(socketsInUse('tcp')).toBe(before)
  })

  it('sees a port another process released (or bound) a moment ago; its own holds do not cost a read', async () => {
    const host = await openHandle()
    let reads = 0
    const read = (): Promise<BoundPort[]> => {
      reads++
      return host.boundPorts('tcp')
    }
    const has = (index: BoundIndex, port: number): boolean => index.on(port).length > 0
    const other = await Agent.start('other')
    const holds = new PortHolds()
    try {
      expect(socketsInUse('tcp')).toBeGreaterThanOrEqual(0)
      await other.listen('tcp', 18301)
      expect(has(await foreignBoundPorts('tcp', read), 18301), 'bound by another process').toBe(true)
      const first = reads
      // Nothing changed: the same read serves (a burst of publishes).
      for (let i = 0; i < 20; i++) await foreignBoundPorts('tcp', read)
      expect(reads).toBe(first)
      // This process's own holds come and go without a new read.
      await holds.hold('mine', { proto: 'tcp', ip: '0.0.0.0', port: 18302, endPort: 18302 }, false)
      expect(has(await foreignBoundPorts('tcp', read), 18302), 'its own hold is not foreign').toBe(false)
      holds.release('mine')
      await foreignBoundPorts('tcp', read)
      expect(reads).toBe(first)
      // Another process lets its port go: free at once (it used to stay refused for up to a second).
      await other.stop()
      expect(has(await foreignBoundPorts('tcp', read), 18301), 'released a moment ago').toBe(false)
      expect(reads).toBe(first + 1)
      // ...and binds one: refused at once.
      const third = await Agent.start('third')
      await third.listen('tcp', 18304)
      expect(has(await foreignBoundPorts('tcp', read), 18304), 'bound a moment ago').toBe(true)
      await third.stop()
    } finally {
      holds.releaseAll()
      await other.stop()
      host.close()
    }
  })
})
