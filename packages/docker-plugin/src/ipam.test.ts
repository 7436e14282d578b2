import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { NetworkController } from '@cnm/controller'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createIpam, GATEWAY_TYPE, type Ipam, ORPHAN_POOL_MS, parsePoolId, STALE_ADDRESS_MS } from './ipam.js'
import { StateFile } from './state-file.js'

interface FakeNet {
  name?: string
  subnet: string
  gateway: string
  endpoints: string[]
}

/** The controller's read side the IPAM asks (its networks' subnets, gateways, endpoint addresses). */
function networksView(nets: FakeNet[]): NetworkController {
  return {
    networks: () =>
      nets.map((n) => ({
        name: n.name ?? `net-${n.subnet}`,
        inspect: () => ({
          subnet: n.subnet,
          gateway: n.gateway,
          subnetIPv6: undefined,
          gatewayIPv6: undefined,
          endpoints: n.endpoints.map((ipv4) => ({ name: `ep-${ipv4}`, ipv4, ipv6: undefined })),
        }),
      })),
  } as unknown as NetworkController
}

const GW = { RequestAddressType: GATEWAY_TYPE }

describe("the IPAM side: agrees with cnm's networks", () => {
  let dir: string
  let state: StateFile
  let nets: FakeNet[]
  let ipam: Ipam
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'cnm-ipam-'))
    state = new StateFile(path.join(dir, 'state.json'))
    nets = []
    ipam = createIpam(networksView(nets), state)
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it('follows dockerd: pool → gateway → (network) → addresses, skipping what the network holds', () => {
    const pool = ipam.requestPool({
      AddressSpace: 'cnm-local',
      Pool: '10.77.0.0/24',
      SubPool: '',
      Options: {},
      V6: false,
    })
    expect(pool).toEqual({ PoolID: '10.77.0.0/24', Pool: '10.77.0.0/24', Data: {} })
    expect(ipam.requestAddress({ PoolID: pool.PoolID, Address: '', Options: GW }).Address).toBe('10.77.0.1/24')
    expect(ipam.requestAddress({ PoolID: pool.PoolID, Address: '10.77.0.254', Options: GW }).Address).toBe(
      '10.77.0.254/24',
    )
    // The network is made with gateway .1; one endpoint holds .2 already (made before a restart).
    nets.push({ subnet: '10.77.0.0/24', gateway: '10.77.0.1', endpoints: ['10.77.0.2'] })
    state.setNetwork('f'.repeat(64), { aux: { '10.77.0.0/24': ['10.77.0.3'] } })
    const a = ipam.requestAddress({ PoolID: pool.PoolID, Address: '', Options: null })
    const b = ipam.requestAddress({ PoolID: pool.PoolID })
    expect([a.Address, b.Address]).toEqual(['10.77.0.4/24', '10.77.0.5/24'])
    // Asked for by name: taken ones are refused, naming the address, the pool and what holds it.
    for (const [taken, by] of [
      ['10.77.0.1', 'the gateway of cnm network net-10.77.0.0/24'],
      ['10.77.0.2', 'endpoint ep-10.77.0.2 of cnm network net-10.77.0.0/24'],
      ['10.77.0.3', 'an auxiliary address of its network'],
      ['10.77.0.4', 'handed out to dockerd, and no endpoint has it (let go in 60 s if none takes it)'],
    ]) {
      expect(() => ipam.requestAddress({ PoolID: pool.PoolID, Address: taken })).toThrow(
        expect.objectContaining({
          code: 'ERR_DOCKER_ADDRESS_IN_USE',
          message: `address ${taken} of pool 10.77.0.0/24 is in use: ${by}`,
        }),
      )
    }
    expect(ipam.requestAddress({ PoolID: pool.PoolID, Address: '10.77.0.9' }).Address).toBe('10.77.0.9/24')
    // Released (dockerd, after DeleteEndpoint): the lowest free again at once, as Docker's IPAM (a
    // restarted container gets its address back).
    ipam.releaseAddress(pool.PoolID, '10.77.0.4')
    expect(ipam.requestAddress({ PoolID: pool.PoolID }).Address).toBe('10.77.0.4/24')
    expect(() => ipam.requestAddress({ PoolID: pool.PoolID, Address: '10.78.0.1' })).toThrow(
      /not in pool 10\.77\.0\.0\/24/u,
    )
    expect(() => ipam.requestAddress({ PoolID: pool.PoolID, Address: '10.77.0.255' })).toThrow(/not a host address/u)
  })

  it('hands out only from --ip-range, and says when a pool is full', () => {
    const pool = ipam.requestPool({ Pool: '10.80.0.0/24', SubPool: '10.80.0.252/30' })
    expect(pool.PoolID).toBe('10.80.0.0/24,10.80.0.252/30')
    // From the range's first address to its last, but not the pool's broadcast address (.255).
    expect(ipam.requestAddress({ PoolID: pool.PoolID }).Address).toBe('10.80.0.252/24')
    expect(ipam.requestAddress({ PoolID: pool.PoolID }).Address).toBe('10.80.0.253/24')
    expect(ipam.requestAddress({ PoolID: pool.PoolID }).Address).toBe('10.80.0.254/24')
    expect(() => ipam.requestAddress({ PoolID: pool.PoolID })).toThrow(
      expect.objectContaining({ code: 'ERR_DOCKER_NO_ADDRESS', kind: 'conflict' }),
    )
    expect(() => ipam.requestPool({ Pool: '10.81.0.0/24', SubPool: '10.82.0.0/25' })).toThrow(
      /not within the pool 10\.81\.0\.0\/24/u,
    )
  })

  it("takes a range as Docker's IPAM does: its first address is a host, and the gateway by default", () => {
    // Measured against dockerd 20.10's own bridge and IPAM: `--subnet 10.50.0.0/24 --ip-range
    // 10.50.0.16/28` gives the gateway .16 and containers .17, .18…; with `--gateway 10.51.0.1` the
    // first container gets .16; `--subnet 10.53.0.0/16 --ip-range 10.53.5.0/24`: gateway 10.53.5.0.
    const a = ipam.requestPool({ Pool: '10.50.0.0/24', SubPool: '10.50.0.16/28' }).PoolID
    expect(ipam.requestAddress({ PoolID: a, Options: GW }).Address).toBe('10.50.0.16/24')
    nets.push({ subnet: '10.50.0.0/24', gateway: '10.50.0.16', endpoints: [] })
    expect(ipam.requestAddress({ PoolID: a }).Address).toBe('10.50.0.17/24')
    const b = ipam.requestPool({ Pool: '10.51.0.0/24', SubPool: '10.51.0.16/28' }).PoolID
    expect(ipam.requestAddress({ PoolID: b, Address: '10.51.0.1', Options: GW }).Address).toBe('10.51.0.1/24')
    nets.push({ subnet: '10.51.0.0/24', gateway: '10.51.0.1', endpoints: [] })
    expect(ipam.requestAddress({ PoolID: b }).Address).toBe('10.51.0.16/24')
    const c = ipam.requestPool({ Pool: '10.53.0.0/16', SubPool: '10.53.5.0/24' }).PoolID
    expect(ipam.requestAddress({ PoolID: c, Options: GW }).Address).toBe('10.53.5.0/16')
    nets.push({ subnet: '10.53.0.0/16', gateway: '10.53.5.0', endpoints: [] })
    expect(ipam.requestAddress({ PoolID: c }).Address).toBe('10.53.5.1/16')
    // A range at the pool's start still skips the pool's own network address.
    const d = ipam.requestPool({ Pool: '10.54.0.0/24', SubPool: '10.54.0.0/28' }).PoolID
    expect(ipam.requestAddress({ PoolID: d, Options: GW }).Address).toBe('10.54.0.1/24')
  })

  it('refuses a pool that overlaps a network or a pool in use, until it is released', () => {
    nets.push({ subnet: '10.77.0.0/24', gateway: '10.77.0.1', endpoints: [] })
    expect(() => ipam.requestPool({ Pool: '10.77.0.0/16' })).toThrow(
      expect.objectContaining({
        code: 'ERR_DOCKER_ADDRESS_IN_USE',
        message: 'pool 10.77.0.0/16 overlaps 10.77.0.0/24 of cnm network net-10.77.0.0/24',
      }),
    )
    ipam.requestPool({ Pool: '10.90.0.0/24' })
    expect(() => ipam.requestPool({ Pool: '10.90.0.128/25' })).toThrow(/overlaps pool 10\.90\.0\.0\/24/u)
    ipam.releasePool('10.90.0.0/24')
    expect(ipam.requestPool({ Pool: '10.90.0.128/25' }).Pool).toBe('10.90.0.128/25')
  })

  it('lets go a pool whose network is gone (cnm network rm; dockerd removed it while cnm was down) a while after it was asked for', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      const id = ipam.requestPool({ Pool: '10.60.0.0/24' }).PoolID
      ipam.requestAddress({ PoolID: id, Options: GW })
      // Just asked for: dockerd's CreateNetwork is on its way.
      expect(() => ipam.requestPool({ Pool: '10.60.0.0/24' })).toThrow(
        expect.objectContaining({
          code: 'ERR_DOCKER_ADDRESS_IN_USE',
          message:
            'pool 10.60.0.0/24 overlaps pool 10.60.0.0/24, handed out to dockerd 0 s ago for a network not made yet',
        }),
      )
      nets.push({ name: 'docker-60', subnet: '10.60.0.0/24', gateway: '10.60.0.1', endpoints: [] })
      const address = ipam.requestAddress({ PoolID: id }).Address
      vi.setSystemTime(Date.now() + ORPHAN_POOL_MS + 1000)
      expect(() => ipam.requestPool({ Pool: '10.60.0.0/24' })).toThrow(
        /overlaps 10\.60\.0\.0\/24 of cnm network docker-60/u,
      )
      nets.pop() // removed behind dockerd's back; its ReleasePool never comes
      // A pool of another driver's network (`-d bridge --ipam-driver cnm`): never a cnm network, kept.
      const other = ipam.requestPool({ Pool: '10.62.0.0/24' }).PoolID
      ipam.requestAddress({ PoolID: other })
      vi.setSystemTime(Date.now() + ORPHAN_POOL_MS + 1000)
      expect(() => ipam.requestPool({ Pool: '10.62.0.0/24' })).toThrow(/overlaps pool 10\.62\.0\.0\/24/u)
      expect(ipam.requestPool({ Pool: '10.60.0.0/24' }).PoolID).toBe(id)
      ipam.flush()
      // Its addresses went with it: the new network's first address is free again.
      nets.push({ name: 'docker-61', subnet: '10.60.0.0/24', gateway: '10.60.0.1', endpoints: [] })
      expect(ipam.requestAddress({ PoolID: id }).Address).toBe(address)
    } finally {
      vi.useRealTimers()
    }
  })

  it('lets go an address of a cnm network that no endpoint took a while after it was handed out (its endpoint removed by cnm, its ReleaseAddress lost)', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      const id = ipam.requestPool({ Pool: '10.64.0.0/24' }).PoolID
      const asked = Date.now()
      const net: FakeNet = { name: 'docker-64', subnet: '10.64.0.0/24', gateway: '10.64.0.1', endpoints: [] }
      nets.push(net)
      ipam.requestAddress({ PoolID: id, Address: '10.64.0.3' }) // dockerd reserves aux addresses too, then
      state.setNetwork('e'.repeat(64), { aux: { '10.64.0.0/24': ['10.64.0.3'] } }) // CreateNetwork keeps them
      const kept = ipam.requestAddress({ PoolID: id }).Address // its endpoint is made
      net.endpoints.push(kept.split('/')[0] as string)
      const lost = ipam.requestAddress({ PoolID: id }).Address // its endpoint goes behind dockerd's back
      expect([kept, lost]).toEqual(['10.64.0.2/24', '10.64.0.4/24'])
      vi.setSystemTime(Date.now() + 30_000)
      expect(() => ipam.requestAddress({ PoolID: id, Address: '10.64.0.4' })).toThrow(/let go in 30 s/u)
      vi.setSystemTime(Date.now() + STALE_ADDRESS_MS)
      // The lost one is free again; the endpoint's and the auxiliary one are not.
      expect(ipam.requestAddress({ PoolID: id, Address: '10.64.0.4' }).Address).toBe('10.64.0.4/24')
      expect(() => ipam.requestAddress({ PoolID: id, Address: '10.64.0.2' })).toThrow(/endpoint ep-10\.64\.0\.2/u)
      expect(() => ipam.requestAddress({ PoolID: id, Address: '10.64.0.3' })).toThrow(/auxiliary address/u)
      // Its network removed behind dockerd's back: the pool is named as such until it is let go.
      nets.pop()
      vi.setSystemTime(asked + 10_000) // (back to) 10 s after the pool was asked for
      expect(() => ipam.requestPool({ Pool: '10.64.0.0/25' })).toThrow(
        'pool 10.64.0.0/25 overlaps pool 10.64.0.0/24, whose cnm network was removed without dockerd (cnm network rm, or docker network rm while cnm was down): let go in 50 s',
      )
      vi.setSystemTime(Date.now() + 2 * STALE_ADDRESS_MS)
      // A pool of another driver's network (no cnm network): dockerd's reservations are never let go.
      const other = ipam.requestPool({ Pool: '10.65.0.0/24' }).PoolID
      ipam.requestAddress({ PoolID: other, Address: '10.65.0.9' })
      vi.setSystemTime(Date.now() + STALE_ADDRESS_MS + 1000)
      expect(() => ipam.requestAddress({ PoolID: other, Address: '10.65.0.9' })).toThrow(
        /is in use: handed out to dockerd$/u,
      )
    } finally {
      vi.useRealTimers()
    }
  })

  it("picks Docker's automatic pools that nothing uses, and a unique local /64 for IPv6", () => {
    nets.push({ subnet: '172.17.0.0/16', gateway: '172.17.0.1', endpoints: [] })
    const auto = ipam.requestPool({ Pool: '' }).Pool
    expect(auto).toMatch(/^(172\.(1[89]|2\d|3[01])\.0\.0\/16|192\.168\.\d+\.0\/20)$/u)
    expect(ipam.requestPool({}).Pool).not.toBe(auto)
    expect(ipam.requestPool({ V6: true }).Pool).toMatch(/^fd[0-9a-f]{2}:[0-9a-f]{1,4}:[0-9a-f]{1,4}::\/64$/u)
  })

  it("understands a pool id after a restart (it spells the subnet), and refuses one that is not cnm's", () => {
    expect(parsePoolId('10.77.0.0/24,10.77.0.128/25')).toMatchObject({
      subnet: expect.objectContaining({ cidr: '10.77.0.0/24' }),
      range: expect.objectContaining({ cidr: '10.77.0.128/25' }),
    })
    for (const bad of ['', 'default', '10.77.0.1/24', '10.77.0.0/24,x', '10.77.0.0/24,10.77.0.0/25,1']) {
      expect(() => parsePoolId(bad)).toThrow(expect.objectContaining({ code: 'ERR_DOCKER_UNKNOWN_OBJECT' }))
    }
  })

  it('keeps what it handed out across a restart (the state file), and lets go of pools whose network is gone', async () => {
    const pool = ipam.requestPool({ Pool: '10.77.0.0/24' }).PoolID
    nets.push({ subnet: '10.77.0.0/24', gateway: '10.77.0.1', endpoints: [] })
    const a = ipam.requestAddress({ PoolID: pool }).Address
    expect(a).toBe('10.77.0.2/24')
    ipam.requestPool({ Pool: '10.91.0.0/24' }) // its network never comes
    // A new process on the same state file: .2 is still dockerd's (no endpoint holds it yet).
    const again = createIpam(networksView(nets), new StateFile(state.file))
    expect(again.requestAddress({ PoolID: pool }).Address).toBe('10.77.0.3/24')
    expect(() => again.requestAddress({ PoolID: pool, Address: '10.77.0.2' })).toThrow(
      expect.objectContaining({ code: 'ERR_DOCKER_ADDRESS_IN_USE' }),
    )
    expect(new StateFile(state.file).reservations()).toEqual({
      pools: ['10.77.0.0/24'],
      addresses: { '10.77.0.0/24': ['10.77.0.2', '10.77.0.3'] },
    })
    expect(again.requestPool({ Pool: '10.91.0.0/24' }).Pool).toBe('10.91.0.0/24')
    again.releaseAddress(pool, '10.77.0.2/24')
    again.releasePool('10.91.0.0/24')
    await new Promise((resolve) => setImmediate(resolve)) // releases are written just after the answer
    expect(new StateFile(state.file).reservations()).toEqual({
      pools: ['10.77.0.0/24'],
      addresses: { '10.77.0.0/24': ['10.77.0.3'] },
    })
    // A write that fails hands out nothing.
    const broken = new StateFile(state.file)
    broken.setReservations = () => {
      throw new Error('disk full')
    }
    const failing = createIpam(networksView(nets), broken)
    expect(() => failing.requestAddress({ PoolID: pool })).toThrow('disk full')
    broken.setReservations = StateFile.prototype.setReservations
    expect(failing.requestAddress({ PoolID: pool }).Address).toBe('10.77.0.2/24') // the failed one was not kept
  })
})
