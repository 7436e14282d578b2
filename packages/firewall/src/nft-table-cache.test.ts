import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { type NftTableState, parseNftTable } from './nft-inventory.js'
import { nftTableCache } from './nft-table-cache.js'
import { parsePortMappings } from './port-mapping.js'

// `nft -j list table inet cnm` after network n1 (br0) and three published ports, from nft 1.0.6.
const fixture = readFileSync(new URL('../test/fixtures/nft-table.json', import.meta.url), 'utf8')

function counted(text: string | undefined): { read: () => Promise<NftTableState>; reads: () => number } {
  let n = 0
  return {
    read: async () => {
      n++
      return parseNftTable(text)
    },
    reads: () => n,
  }
}

const held = parsePortMappings([{ proto: 'tcp', hostPort: 8080, containerIP: '172.18.0.2', containerPort: 80 }])
const range = parsePortMappings([
  {
    proto: 'tcp',
    hostPort: 9000,
    hostPortEnd: 9001,
    containerIP: 'fd00:1::2',
    containerPort: 80,
    containerPortEnd: 81,
  },
])
const missing = parsePortMappings([{ proto: 'tcp', hostPort: 8081, containerIP: '172.18.0.2', containerPort: 80 }])
const elsewhere = parsePortMappings([{ proto: 'tcp', hostPort: 8080, containerIP: '172.18.0.3', containerPort: 80 }])

describe('reads of table inet cnm in a batch', () => {
  it('outside a batch every read goes to the kernel, and no port counts as held', async () => {
    const k = counted(fixture)
    const cache = nftTableCache(k.read)
    await cache.read()
    await cache.read()
    expect(await cache.holdsPorts(held)).toBe(false)
    expect(k.reads()).toBe(2)
  })

  it('in a batch one read answers every read, until a write of ours or the end', async () => {
    const k = counted(fixture)
    const cache = nftTableCache(k.read)
    cache.begin()
    expect(k.reads()).toBe(1) // begun at once: the listing runs while the caller does other work
    await Promise.all([cache.read(), cache.read()])
    await cache.read()
    expect(k.reads()).toBe(1)
    cache.changed() // a network written or deleted: read again
    await cache.read()
    expect(k.reads()).toBe(2)
    cache.end()
    await cache.read()
    expect(k.reads()).toBe(3)
  })

  it('knows which ports the kernel maps exactly so (ranges port by port, the destination compared)', async () => {
    const k = counted(fixture)
    const cache = nftTableCache(k.read)
    cache.begin()
    expect(await cache.holdsPorts(held)).toBe(true)
    expect(await cache.holdsPorts(range)).toBe(true)
    expect(await cache.holdsPorts(missing)).toBe(false)
    expect(await cache.holdsPorts(elsewhere)).toBe(false) // to another container: must go to the kernel (EEXIST)
    expect(await cache.holdsPorts([...held, ...missing])).toBe(false)
    cache.addedPorts(missing) // added by this backend: the read stays good
    expect(await cache.holdsPorts(missing)).toBe(true)
    expect(k.reads()).toBe(1)
  })

  it('a port whose masquerade remap is missing (a table of an older cnm) is not held: addPorts writes it', async () => {
    const old = parseNftTable(fixture)
    old.sets.delete('pubports')
    old.sets.delete('pubports_ip')
    const cache = nftTableCache(async () => old)
    cache.begin()
    expect(await cache.holdsPorts(held)).toBe(false)
    cache.addedPorts(held)
    expect(await cache.holdsPorts(held)).toBe(true)
    expect(old.sets.get('pubports')).toEqual([
      { key: { concat: ['ipv4', 'tcp', 8080] }, comment: undefined, value: undefined },
    ])
    expect(old.sets.get('dnat4any')).toHaveLength(1) // the DNAT element was there: not modelled twice
  })

  it('a port published on two host addresses keeps its pubports_ip element until both go', async () => {
    const k = counted(fixture)
    const cache = nftTableCache(k.read)
    cache.begin()
    const [a, b] = parsePortMappings([
      { proto: 'udp', hostIP: '10.0.0.1', hostPort: 53, containerIP: '172.18.0.2', containerPort: 53 },
      { proto: 'udp', hostIP: '10.0.0.2', hostPort: 53, containerIP: '172.18.0.3', containerPort: 53 },
    ])
    if (!a || !b) throw new Error('no mappings')
    expect(await cache.holdsPorts([a])).toBe(true)
    cache.addedPorts([b])
    expect(await cache.holdsPorts([a, b])).toBe(true)
    const remaps = async (): Promise<unknown[]> =>
      ((await cache.read()).sets.get('pubports_ip') ?? []).map((e) => e.key)
    expect(await remaps()).toEqual([{ concat: ['ipv4', 'udp', 53] }])
    cache.deletedPorts([a])
    expect(await cache.holdsPorts([b])).toBe(true)
    expect(await remaps()).toEqual([{ concat: ['ipv4', 'udp', 53] }])
    cache.deletedPorts([b])
    expect(await remaps()).toEqual([])
    expect(k.reads()).toBe(1)
  })

  it('a missing table holds nothing; a failed read is not kept', async () => {
    const cache = nftTableCache(counted(undefined).read)
    cache.begin()
    expect(await cache.holdsPorts(held)).toBe(false)
    let fail = true
    const flaky = nftTableCache(async () => {
      if (fail) throw new Error('EBUSY')
      return parseNftTable(fixture)
    })
    flaky.begin()
    await expect(flaky.read()).rejects.toThrow('EBUSY')
    fail = false
    expect((await flaky.read()).exists).toBe(true)
  })

  it("keeps the read through this backend's writes: modelled, or dropped when the model cannot follow", async () => {
    const k = counted(fixture)
    const cache = nftTableCache(k.read)
    cache.begin()
    const first = await cache.read()
    cache.wrote((s) => {
      s.chains.push('n-br9-fwd')
      return true
    })
    expect((await cache.read()).chains).toContain('n-br9-fwd')
    expect(await cache.read()).toBe(first)
    cache.addedPorts(missing)
    expect(await cache.holdsPorts(missing)).toBe(true)
    cache.deletedPorts(held)
    expect(await cache.holdsPorts(held)).toBe(false)
    expect(k.reads()).toBe(1)
    cache.wrote(() => false) // e.g. a subnet the model cannot print as the kernel does
    await cache.read()
    expect(k.reads()).toBe(2)
    // A write while the read is still on its way: that read may predate it, so it is not kept.
    const pending = cache.read()
    cache.changed()
    const inFlight = cache.read()
    cache.wrote(() => true)
    await Promise.all([pending, inFlight])
    await cache.read()
    expect(k.reads()).toBe(4)
  })
})
