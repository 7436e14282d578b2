import { describe, expect, it } from 'vitest'
import { parseIpam } from '../ipam.js'
import type { Driver } from '../types.js'
import { describeDriver, runConformance } from './describe-driver.js'
import { createMemoryDriver } from './memory-driver.js'
import { createMemoryKernel, type MemoryKernel } from './memory-kernel.js'

const invalidNetworkOptions = ['nope', { index: -1 }, { internal: 'yes' }, { unknownOption: true }]

function harnessOn(
  kernel: MemoryKernel,
  make: (k: MemoryKernel) => Driver = (k) => createMemoryDriver({ kernel: k, owner: 'test' }),
) {
  return {
    create: async () => {
      const d = make(kernel)
      await d.config({})
      return d
    },
    networkOptions: (i: number) => ({ index: 100 + i }),
    invalidNetworkOptions,
    invalidNetworkIpam: [
      parseIpam({ v6: [{ subnet: 'fd00::/64' }] }),
      parseIpam({ v4: [{ subnet: '192.168.1.0/24' }] }),
      parseIpam({ v4: [{ subnet: '10.7.0.0/24' }, { subnet: '10.7.1.0/24' }] }),
    ],
  }
}

describeDriver('memory', harnessOn(createMemoryKernel()))
describeDriver(
  'memory without persistence',
  harnessOn(createMemoryKernel(), (k) => createMemoryDriver({ kernel: k, persistent: false })),
)

describeDriver('memory, subnets as IPAM values', {
  ...harnessOn(createMemoryKernel()),
  networkOptions: () => ({}),
  networkIpam: (i: number) => parseIpam({ v4: [{ subnet: `10.1.${i}.0/24`, gateway: `10.1.${i}.1` }] }),
})

describe('the conformance suite', () => {
  const failures = async (make: (k: MemoryKernel) => Driver, extra: Partial<ReturnType<typeof harnessOn>> = {}) =>
    (await runConformance({ ...harnessOn(createMemoryKernel(), make), ...extra }))
      .filter((r) => r.error !== undefined)
      .map((r) => r.name)

  it('passes the in-memory driver', async () => {
    expect(await failures((k) => createMemoryDriver({ kernel: k }))).toEqual([])
  })

  it('fails a driver whose forget touches the kernel', async () => {
    const broken = (k: MemoryKernel): Driver => {
      const d = createMemoryDriver({ kernel: k })
      const p = d.persistence
      if (!p) throw new Error('no persistence')
      const forgetEndpoint = p.forgetEndpoint
      // "forget" that deletes the endpoint's link, as a careless driver's would.
      p.forgetEndpoint = async (nid, eid) => {
        for (const [name, link] of k.links) if (link.endpoint === eid) k.links.delete(name)
        await forgetEndpoint(nid, eid)
      }
      return d
    }
    expect(await failures(broken)).toContain(
      'forget drops from memory only: what was forgotten is restored from the kernel',
    )
  })

  it('fails a driver that cannot restore after a restart', async () => {
    const broken = (k: MemoryKernel): Driver => {
      const d = createMemoryDriver({ kernel: k })
      const p = d.persistence
      if (!p) throw new Error('no persistence')
      p.restoreEndpoint = async () => 'gone'
      return d
    }
    expect(await failures(broken)).toContain('restores after a restart: a second driver takes over what the first made')
  })

  it('fails a harness that names no invalid options (no vacuous pass)', async () => {
    expect(await failures((k) => createMemoryDriver({ kernel: k }), { invalidNetworkOptions: [] })).toEqual([
      'refuses bad network and endpoint options with ERR_INVALID_CONFIG and creates nothing',
    ])
  })

  it('fails a driver that accepts bad options', async () => {
    const lax = (k: MemoryKernel): Driver => {
      const d = createMemoryDriver({ kernel: k })
      const create = d.createNetwork.bind(d)
      d.createNetwork = (nid, raw) =>
        create(nid, typeof raw === 'object' && raw !== null && 'unknownOption' in raw ? {} : raw)
      return d
    }
    expect(await failures(lax)).toContain(
      'refuses bad network and endpoint options with ERR_INVALID_CONFIG and creates nothing',
    )
  })
})

describe('the in-memory driver', () => {
  it('holds published ports across drivers on one kernel and refuses a taken one', async () => {
    const kernel = createMemoryKernel()
    const a = createMemoryDriver({ kernel })
    const b = createMemoryDriver({ kernel })
    await a.createNetwork('a'.repeat(64), { index: 1 })
    await b.createNetwork('b'.repeat(64), { index: 2 })
    await a.createEndpoint('a'.repeat(64), 'e1'.repeat(16), '', {
      portBindings: [{ proto: 'tcp', containerPort: 80, hostPort: 8080 }],
    })
    await expect(
      b.createEndpoint('b'.repeat(64), 'e2'.repeat(16), '', {
        portBindings: [{ proto: 'tcp', containerPort: 80, hostPort: 8080 }],
      }),
    ).rejects.toMatchObject({ code: 'ERR_PORT_ALREADY_ALLOCATED', kind: 'conflict' })
    expect(a.endpointInfo('a'.repeat(64), 'e1'.repeat(16)).ports[0]).toMatchObject({
      hostPort: 8080,
      containerIP: '10.0.1.2',
    })
  })

  it('fails a verb once when told to', async () => {
    const d = createMemoryDriver()
    d.kernel.failNext('createNetwork')
    await expect(d.createNetwork('c'.repeat(64), {})).rejects.toMatchObject({ code: 'EIO' })
    await d.createNetwork('c'.repeat(64), {})
    expect(d.networkInfo('c'.repeat(64))?.subnetV4).toBe('10.0.1.0/24')
  })
})
