import { createFirewall, ERR_NOT_SUPPORTED, type Firewall } from '@cnm/firewall'
import { ERR_PORT_ALREADY_ALLOCATED, PortAllocator } from '@cnm/portallocator'
import { describe, expect, it } from 'vitest'
import {
  ERR_INVALID_PORT_RANGE,
  ERR_INVALID_TRANSPORT_ADDRESS,
  ERR_PORT_MAPPED_FOR_IP,
  ERR_PORT_NOT_MAPPED,
} from './errors.js'
import { hostRequest, PortMapper } from './port-mapper.js'

const c1 = { proto: 'tcp', ip: '172.18.0.2', port: 80 } as const

async function setup(firewall?: Firewall): Promise<{ mapper: PortMapper; allocator: PortAllocator; fw: Firewall }> {
  const allocator = new PortAllocator({ begin: 40000, end: 40009, syncWithOS: false })
  const fw = firewall ?? (await createFirewall({ backend: 'none' }))
  return { mapper: new PortMapper({ allocator, firewall: fw }), allocator, fw }
}

/** The `none` firewall with some verbs replaced, to make a step fail. */
async function failing(overrides: Partial<Firewall>): Promise<Firewall & { calls: string[] }> {
  const none = await createFirewall({ backend: 'none' })
  const calls: string[] = []
  return {
    ...none,
    calls,
    addPorts: async (m) => {
      calls.push(`add ${m[0]?.hostPort}`)
      return overrides.addPorts ? overrides.addPorts(m) : none.addPorts(m)
    },
    deletePorts: async (m) => {
      calls.push(`delete ${m[0]?.hostPort}`)
      return overrides.deletePorts ? overrides.deletePorts(m) : none.deletePorts(m)
    },
    ...(overrides.protocols ? { protocols: overrides.protocols } : {}),
  }
}

describe('PortMapper (seed semantics)', () => {
  it('any port comes from the allocator, in order; the mapping is listed until unmapped', async () => {
    const { mapper, allocator } = await setup()
    expect(await mapper.map(c1)).toEqual({ proto: 'tcp', ip: '0.0.0.0', port: 40000 })
    expect(await mapper.map({ ...c1, port: 81 }, undefined, 0)).toEqual({ proto: 'tcp', ip: '0.0.0.0', port: 40001 })
    expect(mapper.mappings()).toEqual([
      { host: { proto: 'tcp', ip: '0.0.0.0', port: 40000 }, container: c1 },
      { host: { proto: 'tcp', ip: '0.0.0.0', port: 40001 }, container: { ...c1, port: 81 } },
    ])
    await mapper.unmap({ proto: 'tcp', ip: '0.0.0.0', port: 40000 })
    expect(mapper.mappings()).toHaveLength(1)
    expect(allocator.requestPort('0.0.0.0', 'tcp', 40000)).toBe(40000) // released
  })

  it('a given port; the same host address twice is ERR_PORT_MAPPED_FOR_IP; a taken one ERR_PORT_ALREADY_ALLOCATED', async () => {
    const { mapper, allocator } = await setup()
    expect(await mapper.map(c1, '10.0.0.1', 8080)).toEqual({ proto: 'tcp', ip: '10.0.0.1', port: 8080 })
    await expect(mapper.map({ ...c1, ip: '172.18.0.3' }, '10.0.0.1', 8080)).rejects.toMatchObject({
      code: ERR_PORT_MAPPED_FOR_IP,
      message: 'tcp/10.0.0.1:8080: port is already mapped to ip',
    })
    expect(await mapper.map(c1, '10.0.0.2', 8080)).toMatchObject({ ip: '10.0.0.2', port: 8080 })
    expect(await mapper.map({ ...c1, proto: 'udp' }, '10.0.0.1', 8080)).toMatchObject({ proto: 'udp' })
    allocator.requestPort('0.0.0.0', 'tcp', 9090)
    await expect(mapper.map(c1, undefined, 9090)).rejects.toMatchObject({ code: ERR_PORT_ALREADY_ALLOCATED })
    // A wildcard conflicts with every address of its family (the allocator's rule).
    await expect(mapper.map(c1, '0.0.0.0', 8080)).rejects.toMatchObject({ code: ERR_PORT_ALREADY_ALLOCATED })
    expect(mapper.mappings()).toHaveLength(3)
  })

  it('unmapping something unknown is ERR_PORT_NOT_MAPPED: port is not mapped', async () => {
    const { mapper } = await setup()
    await expect(mapper.unmap({ proto: 'tcp', ip: '0.0.0.0', port: 8080 })).rejects.toMatchObject({
      code: ERR_PORT_NOT_MAPPED,
      message: 'tcp/0.0.0.0:8080: port is not mapped',
    })
    await mapper.map(c1, undefined, 8080)
    await mapper.unmap({ proto: 'tcp', ip: '0.0.0.0', port: 8080 })
    await expect(mapper.unmap({ proto: 'tcp', ip: '0.0.0.0', port: 8080 })).rejects.toMatchObject({
      code: ERR_PORT_NOT_MAPPED,
    })
  })

  it('IPv6 containers default to ::, and addresses are canonical', async () => {
    const { mapper } = await setup()
    expect(await mapper.map({ ...c1, ip: 'FD00::0002' })).toEqual({ proto: 'tcp', ip: '::', port: 40000 })
    expect(mapper.mappings()[0]?.container).toEqual({ proto: 'tcp', ip: 'fd00::2', port: 80 })
    expect(await mapper.map(c1, '::ffff:10.0.0.1', 8080)).toMatchObject({ ip: '10.0.0.1' })
    expect(await mapper.map({ ...c1, port: 81 }, '', 8081)).toMatchObject({ ip: '0.0.0.0' })
  })

  it('refuses bad input before allocating anything', async () => {
    const { mapper, allocator } = await setup()
    const bad = (p: Promise<unknown>, code: string) => expect(p).rejects.toMatchObject({ code })
    await bad(mapper.map({ ...c1, proto: 'icmp' as never }), ERR_INVALID_TRANSPORT_ADDRESS)
    await bad(mapper.map({ ...c1, ip: '0.0.0.0' }), ERR_INVALID_TRANSPORT_ADDRESS)
    await bad(mapper.map({ ...c1, ip: '172.18.0.300' }), ERR_INVALID_TRANSPORT_ADDRESS)
    await bad(mapper.map({ ...c1, port: 0 }), ERR_INVALID_TRANSPORT_ADDRESS)
    await bad(mapper.map(c1, 'fd00::1'), ERR_INVALID_TRANSPORT_ADDRESS)
    await bad(mapper.map(c1, 'nope'), ERR_INVALID_TRANSPORT_ADDRESS)
    await bad(mapper.map(c1, undefined, 70000), ERR_INVALID_TRANSPORT_ADDRESS)
    await bad(mapper.mapRange({ ...c1, endPort: 79 }), ERR_INVALID_PORT_RANGE)
    await bad(mapper.mapRange({ ...c1, endPort: 81 }, undefined, 8000, 8009), ERR_INVALID_PORT_RANGE)
    await bad(mapper.unmap({ ...c1, port: -1 }), ERR_INVALID_TRANSPORT_ADDRESS)
    expect(allocator.requestPort('0.0.0.0', 'tcp', 0)).toBe(40000) // nothing was allocated
  })
})

describe('PortMapper ranges', () => {
  it('a block of any free ports, an exact block, or one port of a host range', async () => {
    const { mapper } = await setup()
    expect(await mapper.mapRange({ ...c1, endPort: 82 })).toEqual({
      proto: 'tcp',
      ip: '0.0.0.0',
      port: 40000,
      endPort: 40002,
    })
    expect(await mapper.mapRange({ ...c1, port: 90, endPort: 91 }, '10.0.0.1', 8000)).toMatchObject({
      port: 8000,
      endPort: 8001,
    })
    expect(await mapper.mapRange({ ...c1, port: 90, endPort: 91 }, '10.0.0.2', 8000, 8001)).toMatchObject({
      port: 8000,
      endPort: 8001,
    })
    await mapper.map(c1, '10.0.0.3', 7000)
    expect(await mapper.mapRange({ ...c1, endPort: 80 }, '10.0.0.3', 7000, 7005)).toEqual({
      proto: 'tcp',
      ip: '10.0.0.3',
      port: 7001,
      endPort: 7001,
    })
    expect(mapper.mappings()[0]).toEqual({
      host: { proto: 'tcp', ip: '0.0.0.0', port: 40000, endPort: 40002 },
      container: { ...c1, endPort: 82 },
    })
    // A port inside a mapped block is taken; the block is unmapped by its first port.
    await expect(mapper.map(c1, '10.0.0.1', 8001)).rejects.toMatchObject({ code: ERR_PORT_MAPPED_FOR_IP })
    await mapper.unmap({ proto: 'tcp', ip: '10.0.0.1', port: 8000 })
    expect(await mapper.map(c1, '10.0.0.1', 8001)).toMatchObject({ port: 8001 })
  })

  it('host port arguments become allocator requests', () => {
    expect(hostRequest(1, 0, 0)).toEqual({ kind: 'any', count: 1 })
    expect(hostRequest(3, 0, 0)).toEqual({ kind: 'any', count: 3 })
    expect(hostRequest(3, 8000, 0)).toEqual({ kind: 'exact', start: 8000, end: 8002 })
    expect(hostRequest(3, 8000, 8002)).toEqual({ kind: 'exact', start: 8000, end: 8002 })
    expect(hostRequest(1, 8000, 8010)).toEqual({ kind: 'one-of', start: 8000, end: 8010 })
    for (const [n, a, b] of [
      [2, 0, 8000],
      [2, 8000, 7999],
      [2, 8000, 8005],
      [3, 65534, 0],
    ] as const) {
      expect(() => hostRequest(n, a, b)).toThrow(expect.objectContaining({ code: ERR_INVALID_PORT_RANGE }))
    }
  })
})

describe('PortMapper failures', () => {
  it('a firewall failure releases the allocated port and leaves no mapping', async () => {
    const boom = Object.assign(new Error('add ports: nft failed (EEXIST)'), { code: 'EEXIST' })
    const fw = await failing({ addPorts: async () => Promise.reject(boom) })
    const { mapper, allocator } = await setup(fw)
    await expect(mapper.map(c1, undefined, 8080)).rejects.toBe(boom)
    await expect(mapper.mapRange({ ...c1, endPort: 81 })).rejects.toBe(boom)
    expect(mapper.mappings()).toEqual([])
    expect(allocator.requestPort('0.0.0.0', 'tcp', 8080)).toBe(8080)
    expect(allocator.requestPortRange('0.0.0.0', 'tcp', 40000, 40001)).toEqual([40000, 40001])
  })

  it('a failed unmap keeps the mapping and its port, to retry', async () => {
    let fail = true
    const fw = await failing({
      deletePorts: async () => (fail ? Promise.reject(Object.assign(new Error('busy'), { code: 'EBUSY' })) : undefined),
    })
    const { mapper, allocator } = await setup(fw)
    const host = await mapper.map(c1, undefined, 8080)
    await expect(mapper.unmap(host)).rejects.toMatchObject({ code: 'EBUSY' })
    expect(mapper.mappings()).toHaveLength(1)
    expect(() => allocator.requestPort('0.0.0.0', 'tcp', 8080)).toThrow(
      expect.objectContaining({ code: ERR_PORT_ALREADY_ALLOCATED }),
    )
    fail = false
    await mapper.unmap(host)
    expect(fw.calls).toEqual(['add 8080', 'delete 8080', 'delete 8080'])
  })

  it('a protocol the firewall cannot publish is ERR_NOT_SUPPORTED before any allocation', async () => {
    const fw = await failing({ protocols: ['tcp', 'udp'] })
    const { mapper, allocator } = await setup(fw)
    await expect(mapper.map({ ...c1, proto: 'sctp' }, undefined, 8080)).rejects.toMatchObject({
      code: ERR_NOT_SUPPORTED,
    })
    expect(allocator.requestPort('0.0.0.0', 'sctp', 8080)).toBe(8080)
    expect(fw.calls).toEqual([])
  })

  it('concurrent maps never share a host port', async () => {
    const { mapper } = await setup()
    const hosts = await Promise.all(Array.from({ length: 10 }, (_, i) => mapper.map({ ...c1, port: 100 + i })))
    expect(new Set(hosts.map((h) => h.port)).size).toBe(10)
    await expect(mapper.map(c1)).rejects.toMatchObject({ code: 'ERR_ALL_PORTS_ALLOCATED' })
  })
})
