import type { Firewall, Inventory } from '@cnm/firewall'
import { PortAllocator } from '@cnm/portallocator'
import { describe, expect, it } from 'vitest'
import { kernelHasMapping, PortHolds, reserveAdopted } from './port-holds.js'

const firewallWith = (ports: Inventory['ports']): Firewall =>
  ({ inventory: async () => ({ backend: 'nftables', objects: [], networks: [], ports }) }) as unknown as Firewall

describe('kernelHasMapping', () => {
  const container = { proto: 'tcp' as const, ip: '10.0.0.2', port: 80, endPort: 80 }
  it('is true only when the kernel maps every port of the block to that container', async () => {
    const fw = firewallWith([
      { proto: 'tcp', hostPort: 8080, containerIP: '10.0.0.2', containerPort: 80 },
      { proto: 'tcp', hostIP: '127.0.0.1', hostPort: 9000, containerIP: '10.0.0.2', containerPort: 80 },
      { proto: 'tcp', hostPort: 7000, containerIP: '10.0.0.2', containerPort: 80 },
      { proto: 'tcp', hostPort: 7001, containerIP: '10.0.0.2', containerPort: 81 },
    ])
    expect(await kernelHasMapping(fw, { proto: 'tcp', ip: '0.0.0.0', port: 8080, endPort: 8080 }, container)).toBe(true)
    expect(await kernelHasMapping(fw, { proto: 'udp', ip: '0.0.0.0', port: 8080, endPort: 8080 }, container)).toBe(
      false,
    )
    expect(await kernelHasMapping(fw, { proto: 'tcp', ip: '127.0.0.1', port: 9000, endPort: 9000 }, container)).toBe(
      true,
    )
    expect(await kernelHasMapping(fw, { proto: 'tcp', ip: '0.0.0.0', port: 9000, endPort: 9000 }, container)).toBe(
      false,
    )
    const range = { proto: 'tcp' as const, ip: '10.0.0.2', port: 80, endPort: 81 }
    expect(await kernelHasMapping(fw, { proto: 'tcp', ip: '0.0.0.0', port: 7000, endPort: 7001 }, range)).toBe(true)
    expect(await kernelHasMapping(fw, { proto: 'tcp', ip: '0.0.0.0', port: 7000, endPort: 7001 }, container)).toBe(
      false,
    )
    const other = { ...container, ip: '10.0.0.3' }
    expect(await kernelHasMapping(fw, { proto: 'tcp', ip: '0.0.0.0', port: 8080, endPort: 8080 }, other)).toBe(false)
  })
  it('is false when the inventory cannot be read', async () => {
    const fw = { inventory: async () => Promise.reject(new Error('no')) } as unknown as Firewall
    expect(
      await kernelHasMapping(
        fw,
        { proto: 'tcp', ip: '0.0.0.0', port: 1, endPort: 1 },
        { proto: 'tcp', ip: '10.0.0.2', port: 1, endPort: 1 },
      ),
    ).toBe(false)
  })
})

describe('reserveAdopted', () => {
  it('reserves the ports, and says false (without throwing) only when the OS is what refuses', () => {
    const allocator = new PortAllocator({ syncWithOS: false })
    expect(reserveAdopted(allocator, { proto: 'tcp', ip: '0.0.0.0', port: 40000, endPort: 40001 })).toBe(true)
    expect(() => reserveAdopted(allocator, { proto: 'tcp', ip: '0.0.0.0', port: 40000, endPort: 40000 })).toThrow(
      expect.objectContaining({ code: 'ERR_PORT_ALREADY_ALLOCATED' }),
    )
    const byOS = {
      requestPort: () => {
        throw Object.assign(new Error('taken'), { code: 'ERR_PORT_ALREADY_ALLOCATED', byOS: true })
      },
    } as unknown as PortAllocator
    expect(reserveAdopted(byOS, { proto: 'tcp', ip: '0.0.0.0', port: 1, endPort: 1 })).toBe(false)
  })
})

describe('PortHolds (disabled)', () => {
  it('holds nothing when disabled, and nothing for sctp', async () => {
    const holds = new PortHolds(false)
    await holds.hold('k', { proto: 'tcp', ip: '127.0.0.1', port: 1, endPort: 1 }, false)
    expect(holds.size).toBe(0)
    await new PortHolds(true).hold('k', { proto: 'sctp', ip: '127.0.0.1', port: 1, endPort: 1 }, false)
  })
})
