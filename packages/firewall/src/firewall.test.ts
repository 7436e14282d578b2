import { describe, expect, it } from 'vitest'
import type { Backend } from './backend.js'
import { ERR_INVALID_CONFIG, ERR_INVALID_PORT, ERR_NOT_SUPPORTED } from './errors.js'
import { createFirewall, wrapBackend } from './firewall.js'

const mapping = { proto: 'tcp', hostPort: 8080, containerIP: '172.18.0.2', containerPort: 80 } as const

describe('createFirewall', () => {
  it('an unknown backend or option is ERR_INVALID_CONFIG naming it', async () => {
    await expect(createFirewall({ backend: 'ipfw' as never })).rejects.toMatchObject({
      code: ERR_INVALID_CONFIG,
      message: expect.stringContaining('"ipfw"'),
    })
    await expect(createFirewall({ tables: 'x' } as never)).rejects.toMatchObject({ code: ERR_INVALID_CONFIG })
  })

  it('the none backend validates everything and owns nothing', async () => {
    const fw = await createFirewall({ backend: 'none' })
    expect(fw).toMatchObject({ backend: 'none', name: 'none', protocols: ['tcp', 'udp', 'sctp'] })
    expect(Object.isFrozen(fw)).toBe(true)
    await fw.addNetwork({ id: 'n', bridge: 'br0', subnets: ['10.0.0.0/24'] })
    await fw.addPorts([mapping, { ...mapping, proto: 'sctp' }])
    await expect(fw.addPorts([{ ...mapping, hostPort: 0 }])).rejects.toMatchObject({ code: ERR_INVALID_PORT })
    expect(await fw.inventory()).toEqual({ backend: 'none', objects: [], networks: [], ports: [] })
    await fw.deletePorts([mapping])
    await fw.deleteNetwork({ bridge: 'br0' })
    await fw.flush()
  })
})

describe('wrapBackend', () => {
  const calls: string[] = []
  const slow = (name: string, ms: number) => async (): Promise<void> => {
    calls.push(`${name}:start`)
    await new Promise((r) => setTimeout(r, ms))
    calls.push(`${name}:end`)
  }
  const backend: Backend = {
    name: 'nftables',
    addNetwork: slow('addNetwork', 1),
    deleteNetwork: slow('deleteNetwork', 1),
    addPorts: slow('addPorts', 20),
    deletePorts: slow('deletePorts', 1),
    inventory: async () => ({ backend: 'nftables', objects: [], networks: [], ports: [] }),
    flush: async () => {},
    verify: async () => ({ skeleton: [], networks: [], ports: [] }),
    repair: async () => ({ skeleton: [], networks: [], ports: [] }),
  }

  it('runs one call at a time, in call order, even when one fails', async () => {
    const fw = wrapBackend(backend, ['tcp', 'udp'])
    const bad = fw.addPorts([{ ...mapping, proto: 'sctp' }])
    const a = fw.addPorts([mapping])
    const b = fw.deletePorts([mapping])
    await expect(bad).rejects.toMatchObject({ code: ERR_NOT_SUPPORTED })
    await Promise.all([a, b])
    expect(calls).toEqual(['addPorts:start', 'addPorts:end', 'deletePorts:start', 'deletePorts:end'])
  })

  it('an empty list changes nothing', async () => {
    calls.length = 0
    const fw = wrapBackend(backend, ['tcp', 'udp'])
    await fw.addPorts([])
    await fw.deletePorts([])
    expect(calls).toEqual([])
  })
})
