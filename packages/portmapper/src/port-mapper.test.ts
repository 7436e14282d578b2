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

const ip1 = '172.18.0.2'
/** Container port 80/tcp, any host port on every address. */
const b1 = { proto: 'tcp', containerPort: 80 } as const
/** What `publish` returns for a single port. */
const one = (containerIP: string, containerPort: number, hostIP: string, hostPort: number, proto = 'tcp') => ({
  proto,
  containerIP,
  containerPort,
  containerPortEnd: containerPort,
  hostIP,
  hostPort,
  hostPortEnd: hostPort,
})

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
  it('any port comes from the allocator, in order; the port is listed until unpublished', async () => {
    const { mapper, allocator } = await setup()
    expect(await mapper.publish(ip1, b1)).toEqual(one(ip1, 80, '0.0.0.0', 40000))
    expect(await mapper.publish(ip1, { ...b1, containerPort: 81, hostPort: 0 })).toEqual(one(ip1, 81, '0.0.0.0', 40001))
    expect(mapper.published()).toEqual([one(ip1, 80, '0.0.0.0', 40000), one(ip1, 81, '0.0.0.0', 40001)])
    await mapper.unpublish({ proto: 'tcp', hostIP: '0.0.0.0', hostPort: 40000 })
    expect(mapper.published()).toHaveLength(1)
    expect(allocator.requestPort('0.0.0.0', 'tcp', 40000)).toBe(40000) // released
  })

  it('a given port; the same host address twice is ERR_PORT_MAPPED_FOR_IP; a taken one ERR_PORT_ALREADY_ALLOCATED', async () => {
    const { mapper, allocator } = await setup()
    const on = (hostIP: string | undefined, hostPort: number) => ({ ...b1, ...(hostIP ? { hostIP } : {}), hostPort })
    expect(await mapper.publish(ip1, on('10.0.0.1', 8080))).toEqual(one(ip1, 80, '10.0.0.1', 8080))
    await expect(mapper.publish('172.18.0.3', on('10.0.0.1', 8080))).rejects.toMatchObject({
      code: ERR_PORT_MAPPED_FOR_IP,
      message: 'Bind for 10.0.0.1:8080 failed: port is already allocated (published to 172.18.0.2:80)',
    })
    expect(await mapper.publish(ip1, on('10.0.0.2', 8080))).toMatchObject({ hostIP: '10.0.0.2', hostPort: 8080 })
    expect(await mapper.publish(ip1, { ...on('10.0.0.1', 8080), proto: 'udp' })).toMatchObject({ proto: 'udp' })
    allocator.requestPort('0.0.0.0', 'tcp', 9090)
    await expect(mapper.publish(ip1, on(undefined, 9090))).rejects.toMatchObject({ code: ERR_PORT_ALREADY_ALLOCATED })
    // A wildcard conflicts with every address of its family (the allocator's rule).
    await expect(mapper.publish(ip1, on('0.0.0.0', 8080))).rejects.toMatchObject({ code: ERR_PORT_ALREADY_ALLOCATED })
    expect(mapper.published()).toHaveLength(3)
  })

  it('unpublishing something unknown is ERR_PORT_NOT_MAPPED: port is not mapped', async () => {
    const { mapper } = await setup()
    const host = { proto: 'tcp', hostIP: '0.0.0.0', hostPort: 8080 } as const
    await expect(mapper.unpublish(host)).rejects.toMatchObject({
      code: ERR_PORT_NOT_MAPPED,
      message: 'tcp/0.0.0.0:8080: port is not mapped',
    })
    await mapper.publish(ip1, { ...b1, hostPort: 8080 })
    await mapper.unpublish(host)
    await expect(mapper.unpublish(host)).rejects.toMatchObject({ code: ERR_PORT_NOT_MAPPED })
  })

  it('IPv6 containers default to ::, and addresses are canonical', async () => {
    const { mapper } = await setup()
    expect(await mapper.publish('FD00::0002', b1)).toEqual(one('fd00::2', 80, '::', 40000))
    expect(mapper.published()[0]?.containerIP).toBe('fd00::2')
    expect(await mapper.publish(ip1, { ...b1, hostIP: '::ffff:10.0.0.1', hostPort: 8080 })).toMatchObject({
      hostIP: '10.0.0.1',
    })
    expect(await mapper.publish(ip1, { ...b1, containerPort: 81, hostIP: '', hostPort: 8081 })).toMatchObject({
      hostIP: '0.0.0.0',
    })
  })

  it('refuses bad input before allocating anything', async () => {
    const { mapper, allocator } = await setup()
    const bad = (p: Promise<unknown>, code: string) => expect(p).rejects.toMatchObject({ code })
    await bad(mapper.publish(ip1, { ...b1, proto: 'icmp' as never }), ERR_INVALID_TRANSPORT_ADDRESS)
    await bad(mapper.publish('0.0.0.0', b1), ERR_INVALID_TRANSPORT_ADDRESS)
    await bad(mapper.publish('172.18.0.300', b1), ERR_INVALID_TRANSPORT_ADDRESS)
    await bad(mapper.publish(ip1, { ...b1, containerPort: 0 }), ERR_INVALID_TRANSPORT_ADDRESS)
    await bad(mapper.publish(ip1, { ...b1, hostIP: 'fd00::1' }), ERR_INVALID_TRANSPORT_ADDRESS)
    await bad(mapper.publish(ip1, { ...b1, hostIP: 'nope' }), ERR_INVALID_TRANSPORT_ADDRESS)
    await bad(mapper.publish(ip1, { ...b1, hostPort: 70000 }), ERR_INVALID_TRANSPORT_ADDRESS)
    await bad(mapper.publish(ip1, undefined as never), ERR_INVALID_TRANSPORT_ADDRESS)
    await bad(mapper.publish(ip1, { ...b1, containerPortEnd: 79 }), ERR_INVALID_PORT_RANGE)
    await bad(
      mapper.publish(ip1, { ...b1, containerPortEnd: 81, hostPort: 8000, hostPortEnd: 8009 }),
      ERR_INVALID_PORT_RANGE,
    )
    await bad(mapper.unpublish({ proto: 'tcp', hostIP: '0.0.0.0', hostPort: -1 }), ERR_INVALID_TRANSPORT_ADDRESS)
    expect(allocator.requestPort('0.0.0.0', 'tcp', 0)).toBe(40000) // nothing was allocated
  })
})

describe('PortMapper ranges', () => {
  it('a block of any free ports, an exact block, or one port of a host range', async () => {
    const { mapper } = await setup()
    expect(await mapper.publish(ip1, { ...b1, containerPortEnd: 82 })).toEqual({
      proto: 'tcp',
      containerIP: ip1,
      containerPort: 80,
      containerPortEnd: 82,
      hostIP: '0.0.0.0',
      hostPort: 40000,
      hostPortEnd: 40002,
    })
    const block = { ...b1, containerPort: 90, containerPortEnd: 91 }
    expect(await mapper.publish(ip1, { ...block, hostIP: '10.0.0.1', hostPort: 8000 })).toMatchObject({
      hostPort: 8000,
      hostPortEnd: 8001,
    })
    expect(
      await mapper.publish(ip1, { ...block, hostIP: '10.0.0.2', hostPort: 8000, hostPortEnd: 8001 }),
    ).toMatchObject({ hostPort: 8000, hostPortEnd: 8001 })
    await mapper.publish(ip1, { ...b1, hostIP: '10.0.0.3', hostPort: 7000 })
    // One container port with a host range (`-p 7000-7005:80`): the first free port of the range.
    expect(await mapper.publish(ip1, { ...b1, hostIP: '10.0.0.3', hostPort: 7000, hostPortEnd: 7005 })).toEqual(
      one(ip1, 80, '10.0.0.3', 7001),
    )
    expect(mapper.published()[0]).toMatchObject({ hostPort: 40000, hostPortEnd: 40002, containerPortEnd: 82 })
    // A port inside a published block is taken; the block is unpublished by its first port.
    const in8001 = { ...b1, hostIP: '10.0.0.1', hostPort: 8001 }
    await expect(mapper.publish(ip1, in8001)).rejects.toMatchObject({ code: ERR_PORT_MAPPED_FOR_IP })
    await mapper.unpublish({ proto: 'tcp', hostIP: '10.0.0.1', hostPort: 8000 })
    expect(await mapper.publish(ip1, in8001)).toMatchObject({ hostPort: 8001 })
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
  it('a firewall failure releases the allocated port and leaves nothing published', async () => {
    const boom = Object.assign(new Error('add ports: nft failed (EEXIST)'), { code: 'EEXIST' })
    const fw = await failing({ addPorts: async () => Promise.reject(boom) })
    const { mapper, allocator } = await setup(fw)
    await expect(mapper.publish(ip1, { ...b1, hostPort: 8080 })).rejects.toBe(boom)
    await expect(mapper.publish(ip1, { ...b1, containerPortEnd: 81 })).rejects.toBe(boom)
    expect(mapper.published()).toEqual([])
    expect(allocator.requestPort('0.0.0.0', 'tcp', 8080)).toBe(8080)
    expect(allocator.requestPortRange('0.0.0.0', 'tcp', 40000, 40001)).toEqual([40000, 40001])
  })

  it('a failed unpublish keeps the port published and allocated, to retry', async () => {
    let fail = true
    const fw = await failing({
      deletePorts: async () => (fail ? Promise.reject(Object.assign(new Error('busy'), { code: 'EBUSY' })) : undefined),
    })
    const { mapper, allocator } = await setup(fw)
    const published = await mapper.publish(ip1, { ...b1, hostPort: 8080 })
    await expect(mapper.unpublish(published)).rejects.toMatchObject({ code: 'EBUSY' })
    expect(mapper.published()).toHaveLength(1)
    expect(() => allocator.requestPort('0.0.0.0', 'tcp', 8080)).toThrow(
      expect.objectContaining({ code: ERR_PORT_ALREADY_ALLOCATED }),
    )
    fail = false
    await mapper.unpublish(published)
    expect(fw.calls).toEqual(['add 8080', 'delete 8080', 'delete 8080'])
  })

  it('a protocol the firewall cannot publish is ERR_NOT_SUPPORTED before any allocation', async () => {
    const fw = await failing({ protocols: ['tcp', 'udp'] })
    const { mapper, allocator } = await setup(fw)
    await expect(mapper.publish(ip1, { ...b1, proto: 'sctp', hostPort: 8080 })).rejects.toMatchObject({
      code: ERR_NOT_SUPPORTED,
    })
    expect(allocator.requestPort('0.0.0.0', 'sctp', 8080)).toBe(8080)
    expect(fw.calls).toEqual([])
  })

  it('concurrent publishes never share a host port', async () => {
    const { mapper } = await setup()
    const all = await Promise.all(
      Array.from({ length: 10 }, (_, i) => mapper.publish(ip1, { ...b1, containerPort: 100 + i })),
    )
    expect(new Set(all.map((p) => p.hostPort)).size).toBe(10)
    await expect(mapper.publish(ip1, b1)).rejects.toMatchObject({ code: 'ERR_ALL_PORTS_ALLOCATED' })
  })
})
