import type { Handle } from '@cnm/netlink'
import { describe, expect, it, vi } from 'vitest'
import { conntrackEmpty } from './conntrack-empty.js'
import { flushConntrack } from './publish.js'

/** A host handle that says how many connections its namespace tracks, and counts the dumps asked of it. */
function fakeHost(count: string | Error) {
  const host = {
    readSysctl: vi.fn((key: string) => {
      expect(key).toBe('net/netfilter/nf_conntrack_count')
      if (count instanceof Error) throw count
      return count
    }),
    listAddresses: vi.fn(async () => [{ family: 4, address: '192.0.2.2', index: 2 }]),
    flushConntrack: vi.fn(async (_matches: unknown) => 0),
  }
  return host
}

const port = {
  proto: 'udp' as const,
  containerIP: '10.0.0.2',
  containerPort: 53,
  containerPortEnd: 53,
  hostIP: '0.0.0.0',
  hostPort: 5353,
  hostPortEnd: 5353,
}

describe('conntrackEmpty', () => {
  it('is true only when the namespace tracks nothing; unknown is false', () => {
    expect(conntrackEmpty(fakeHost('0'))).toBe(true)
    expect(conntrackEmpty(fakeHost('12'))).toBe(false)
    expect(conntrackEmpty(fakeHost(new Error('ENOENT: no conntrack')))).toBe(false)
  })
})

describe('flushConntrack', () => {
  it('dumps neither the conntrack table nor the addresses when nothing is tracked', async () => {
    const host = fakeHost('0')
    await flushConntrack(host as unknown as Handle, [port], ['10.0.0.2'])
    expect(host.flushConntrack).not.toHaveBeenCalled()
    expect(host.listAddresses).not.toHaveBeenCalled()
  })
  it('flushes the published ports and addresses when connections are tracked (or the count is unknown)', async () => {
    for (const count of ['3', new Error('no conntrack')]) {
      const host = fakeHost(count)
      await flushConntrack(host as unknown as Handle, [port], ['10.0.0.2'])
      expect(host.listAddresses).toHaveBeenCalledTimes(1) // a wildcard port: its local addresses
      expect(host.flushConntrack).toHaveBeenCalledTimes(1)
      expect(host.flushConntrack.mock.calls[0]?.[0]).toEqual([
        { proto: 'udp', port: 5353, endPort: 5353, destination: ['192.0.2.2', '127.0.0.0/8'] },
        { address: '10.0.0.2' },
      ])
    }
  })
})
