import { randomBytes } from 'node:crypto'
import { tryParseCIDR } from '@cnm/ip'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ERR_ACTIVE_ENDPOINTS,
  ERR_ENDPOINT_EXISTS,
  ERR_INVALID_CONFIG,
  ERR_NETWORK_EXISTS,
  ERR_NO_ENDPOINT,
  ERR_NO_NETWORK,
} from '../errors.js'
import { ipamFromOptions, ipamSubnets, type NetworkIpam } from '../ipam.js'
import type { Driver, DriverPersistence, SandboxInfo } from '../types.js'

/** What the conformance suite needs to exercise a driver. */
export interface DriverHarness {
  /**
   * A fresh, configured driver. Called once for the suite, and again to play the same driver after
   * a restart (a second instance, with the same owner, on the same kernel).
   */
  create(): Promise<Driver>
  /**
   * Options for a new network that does not clash with any other (`i` counts networks). Its subnet
   * may be given with the old option keys (`addressIPv4`, …): the suite converts them into the
   * `ipam` argument, as a controller does, unless {@link DriverHarness.networkIpam} gives that.
   */
  networkOptions(i: number): unknown
  /** The IPAM data of network `i` (default: converted from `networkOptions(i)`'s old keys). */
  networkIpam?(i: number): NetworkIpam
  /**
   * IPAM data the driver must refuse (`ERR_INVALID_CONFIG` or `ERR_NOT_SUPPORTED`) before changing
   * anything, with the options of a fresh network (a subnet no network can use, several subnets
   * where the driver takes one, …).
   */
  invalidNetworkIpam?: NetworkIpam[]
  /** Options the driver must refuse with `ERR_INVALID_CONFIG`, before changing anything (at least one). */
  invalidNetworkOptions: unknown[]
  /** Endpoint options the driver must refuse with `ERR_INVALID_CONFIG` (default: a few any driver refuses). */
  invalidEndpointOptions?: unknown[]
  /** Whether each endpoint gets an IPv4 address (default true; `null` gives none). */
  givesAddresses?: boolean
  /** The sandbox key to pass to `createEndpoint` (default `''`: the driver's host-side flow). */
  sandboxKey?(): Promise<string>
  /** Undo whatever `sandboxKey` made. */
  releaseSandboxKey?(key: string): Promise<void>
  /** Called after the suite, with every driver instance it made. */
  dispose?(driver: Driver): Promise<void>
}

/** One check of the suite, runnable on its own (see {@link runConformance}). */
export interface ConformanceCheck {
  name: string
  /**
   * Runs the check against `ctx.driver`, creating what it needs and removing it again; rejects
   * (a vitest assertion error) when the driver does not behave as the contract says.
   */
  run(ctx: ConformanceContext): Promise<void>
}

/** What the checks share: the driver under test (a restart check replaces it) and helpers. */
export interface ConformanceContext {
  driver: Driver
  readonly harness: DriverHarness
  /** Every driver instance made, for disposal. */
  readonly drivers: Driver[]
  /** A sandbox key from the harness (remembered for release). */
  key(): Promise<string>
  /** A fresh network's options. */
  nextNetworkOptions(): unknown
  /** A fresh network's options and IPAM data, as a controller hands them to `createNetwork`. */
  nextNetwork(): [options: unknown, ipam: NetworkIpam]
}

const newId = (): string => randomBytes(32).toString('hex')

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toMatchObject({ code })
}

function expectCodeSync(fn: () => unknown, code: string): void {
  let thrown: unknown
  try {
    fn()
  } catch (err) {
    thrown = err
  }
  expect(thrown, `expected a throw with code ${code}`).toMatchObject({ code })
}

function checkSandboxInfo(info: SandboxInfo, givesAddresses: boolean): void {
  expect(Array.isArray(info.interfaces)).toBe(true)
  if (givesAddresses) expect(info.interfaces.length).toBeGreaterThan(0)
  for (const i of info.interfaces) {
    expect(typeof i.srcName).toBe('string')
    expect(typeof i.dstName).toBe('string')
    if (i.address !== undefined) expect(tryParseCIDR(i.address)?.family, `address ${i.address}`).toBe(4)
    if (i.addressIPv6 !== undefined) expect(tryParseCIDR(i.addressIPv6)?.family, `address ${i.addressIPv6}`).toBe(6)
  }
}

function persistenceOf(driver: Driver): DriverPersistence | undefined {
  return driver.persistence
}

/** A network with one endpoint, and their records (when the driver persists). */
async function networkWithEndpoint(ctx: ConformanceContext) {
  const nid = newId()
  const eid = newId()
  await ctx.driver.createNetwork(nid, ...ctx.nextNetwork())
  const info = await ctx.driver.createEndpoint(nid, eid, await ctx.key(), {})
  const p = persistenceOf(ctx.driver)
  const netRecord = JSON.parse(JSON.stringify(p?.exportNetwork(nid) ?? null)) as unknown
  const epRecord = JSON.parse(JSON.stringify(p?.exportEndpoint(nid, eid) ?? null)) as unknown
  return { nid, eid, info, netRecord, epRecord }
}

/** The checks every driver passes, in order. */
export const CONFORMANCE_CHECKS: readonly ConformanceCheck[] = [
  {
    name: 'has a name and capabilities',
    async run({ driver }) {
      expect(typeof driver.name).toBe('string')
      expect(driver.name.length).toBeGreaterThan(0)
      expect(['local', 'global']).toContain(driver.capabilities.scope)
      expect(typeof driver.capabilities.publishesPorts).toBe('boolean')
      expect(typeof driver.capabilities.needsParent).toBe('boolean')
    },
  },
  {
    name: 'creates and deletes a network; unknown or repeated ids get typed errors',
    async run(ctx) {
      const { driver } = ctx
      const nid = newId()
      const [opts, ipam] = ctx.nextNetwork()
      await driver.createNetwork(nid, opts, ipam)
      expect(driver.networkInfo(nid)?.id).toBe(nid)
      // The subnets handed over as values are the network's.
      const info = driver.networkInfo(nid)
      for (const subnet of ipamSubnets(ipam)) {
        expect([info?.subnetV4, info?.subnetV6], `subnet ${subnet.cidr}`).toContain(subnet.cidr)
      }
      await expectCode(driver.createNetwork(nid, opts, ipam), ERR_NETWORK_EXISTS)
      await driver.deleteNetwork(nid)
      expect(driver.networkInfo(nid)).toBeUndefined()
      await expectCode(driver.deleteNetwork(nid), ERR_NO_NETWORK)
      await expectCode(driver.createEndpoint(nid, newId(), '', {}), ERR_NO_NETWORK)
      await expectCode(driver.deleteEndpoint(nid, newId()), ERR_NO_NETWORK)
      await expectCode(driver.join(nid, newId(), '', {}), ERR_NO_NETWORK)
    },
  },
  {
    name: 'creates endpoints with distinct addresses and refuses duplicates and active deletes',
    async run(ctx) {
      const { driver, harness } = ctx
      const gives = harness.givesAddresses ?? true
      const nid = newId()
      await driver.createNetwork(nid, ...ctx.nextNetwork())
      const [e1, e2] = [newId(), newId()]
      const info1 = await driver.createEndpoint(nid, e1, await ctx.key(), {})
      const info2 = await driver.createEndpoint(nid, e2, await ctx.key(), {})
      checkSandboxInfo(info1, gives)
      checkSandboxInfo(info2, gives)
      const [a1, a2] = [driver.endpointInfo(nid, e1), driver.endpointInfo(nid, e2)]
      if (gives) {
        expect(a1.ipv4 ?? a1.ipv6).toBeDefined()
        expect(info1.interfaces[0]?.address).not.toBe(info2.interfaces[0]?.address)
        expect(info1.interfaces[0]?.address?.split('/')[0]).toBe(a1.ipv4)
      }
      if (a1.ipv4) expect(a1.ipv4).not.toBe(a2.ipv4)
      await expectCode(driver.createEndpoint(nid, e1, '', {}), ERR_ENDPOINT_EXISTS)
      await expectCode(driver.deleteNetwork(nid), ERR_ACTIVE_ENDPOINTS)
      await driver.deleteEndpoint(nid, e1)
      await expectCode(driver.deleteEndpoint(nid, e1), ERR_NO_ENDPOINT)
      expectCodeSync(() => driver.endpointInfo(nid, e1), ERR_NO_ENDPOINT)
      await driver.deleteEndpoint(nid, e2)
      await driver.deleteNetwork(nid)
    },
  },
  {
    name: 'refuses bad network and endpoint options with ERR_INVALID_CONFIG and creates nothing',
    async run(ctx) {
      const { driver, harness } = ctx
      // A harness that names no bad options would pass vacuously: it must name at least one.
      expect(harness.invalidNetworkOptions.length, 'the harness must supply invalid network options').toBeGreaterThan(0)
      for (const bad of harness.invalidNetworkOptions) {
        const nid = newId()
        await expectCode(driver.createNetwork(nid, bad), ERR_INVALID_CONFIG)
        expect(driver.networkInfo(nid)).toBeUndefined()
        await expectCode(driver.deleteNetwork(nid), ERR_NO_NETWORK)
      }
      for (const bad of harness.invalidNetworkIpam ?? []) {
        const nid = newId()
        const [opts] = ctx.nextNetwork()
        await expect(driver.createNetwork(nid, opts, bad)).rejects.toMatchObject({
          code: expect.stringMatching(/^ERR_(INVALID_CONFIG|NOT_SUPPORTED)$/u),
        })
        expect(driver.networkInfo(nid)).toBeUndefined()
      }
      const nid = newId()
      await driver.createNetwork(nid, ...ctx.nextNetwork())
      for (const bad of harness.invalidEndpointOptions ?? ['not an object', { noSuchOption: 1 }]) {
        const eid = newId()
        await expectCode(driver.createEndpoint(nid, eid, await ctx.key(), bad), ERR_INVALID_CONFIG)
        await expectCode(driver.deleteEndpoint(nid, eid), ERR_NO_ENDPOINT)
      }
      await driver.deleteNetwork(nid)
    },
  },
  {
    name: 'joins and leaves',
    async run(ctx) {
      const { driver } = ctx
      const { nid, eid } = await networkWithEndpoint(ctx)
      const key = await ctx.key()
      const joined = await driver.join(nid, eid, key, {})
      expect(typeof joined).toBe('object')
      await driver.leave(nid, eid)
      await expectCode(driver.join(nid, newId(), key, {}), ERR_NO_ENDPOINT)
      await expectCode(driver.leave(nid, newId()), ERR_NO_ENDPOINT)
      await driver.deleteEndpoint(nid, eid)
      await driver.deleteNetwork(nid)
    },
  },
  {
    name: 'forget drops from memory only: what was forgotten is restored from the kernel',
    async run(ctx) {
      const p = persistenceOf(ctx.driver)
      if (!p) return
      const { driver } = ctx
      const { nid, eid, netRecord, epRecord } = await networkWithEndpoint(ctx)
      const before = driver.endpointInfo(nid, eid)
      expect(await p.endpointAlive(nid, eid)).toBe(true)
      await p.forgetEndpoint(nid, eid)
      expectCodeSync(() => driver.endpointInfo(nid, eid), ERR_NO_ENDPOINT)
      await p.forgetNetwork(nid)
      expect(driver.networkInfo(nid)).toBeUndefined()
      // Had forget touched the kernel, these would come back `rebuilt` / `gone`.
      expect(await p.restoreNetwork(nid, netRecord)).toBe('restored')
      expect(await p.restoreEndpoint(nid, eid, epRecord)).toBe('restored')
      const after = driver.endpointInfo(nid, eid)
      expect({ ...after, ports: after.ports }).toEqual({ ...before, ports: before.ports })
      await driver.deleteEndpoint(nid, eid)
      await driver.deleteNetwork(nid)
    },
  },
  {
    name: 'removeStrays keeps what the records name and removes what no one holds',
    async run(ctx) {
      const p = persistenceOf(ctx.driver)
      if (!p) return
      const { driver } = ctx
      const { nid, eid, netRecord, epRecord } = await networkWithEndpoint(ctx)
      await p.forgetEndpoint(nid, eid)
      await p.forgetNetwork(nid)
      const named = await p.removeStrays({
        networks: new Map([[nid, netRecord]]),
        endpoints: new Map([[eid, { networkId: nid, record: epRecord }]]),
      })
      expect(named.errors).toEqual([])
      expect(await p.restoreNetwork(nid, netRecord)).toBe('restored')
      expect(await p.restoreEndpoint(nid, eid, epRecord)).toBe('restored')
      await p.forgetEndpoint(nid, eid)
      await p.forgetNetwork(nid)
      const unnamed = await p.removeStrays({ networks: new Map(), endpoints: new Map() })
      expect(unnamed.errors).toEqual([])
      expect(unnamed.links.length).toBeGreaterThan(0)
      expect(['restored', 'rebuilt']).toContain(await p.restoreNetwork(nid, netRecord))
      expect(await p.restoreEndpoint(nid, eid, epRecord)).toBe('gone')
      expectCodeSync(() => driver.endpointInfo(nid, eid), ERR_NO_ENDPOINT)
      await driver.deleteNetwork(nid)
    },
  },
  {
    name: 'restores after a restart: a second driver takes over what the first made',
    async run(ctx) {
      const first = ctx.driver
      if (!persistenceOf(first)) return
      const { nid, eid, info, netRecord, epRecord } = await networkWithEndpoint(ctx)
      const before = first.endpointInfo(nid, eid)
      const beforeNet = first.networkInfo(nid)
      await first.close()
      const second = await ctx.harness.create()
      ctx.drivers.push(second)
      ctx.driver = second
      const p = persistenceOf(second)
      expect(p, 'a restarted driver keeps its persistence').toBeDefined()
      if (!p) return
      expect(await p.restoreNetwork(nid, netRecord)).toBe('restored')
      expect(await p.restoreEndpoint(nid, eid, epRecord)).toBe('restored')
      expect(second.networkInfo(nid)).toEqual(beforeNet)
      expect(second.endpointInfo(nid, eid)).toEqual(before)
      expect(await p.endpointAlive(nid, eid)).toBe(true)
      // The restored endpoint's address is held again: a new endpoint gets another one.
      const other = newId()
      const info2 = await second.createEndpoint(nid, other, await ctx.key(), {})
      if (info.interfaces[0]?.address) expect(info2.interfaces[0]?.address).not.toBe(info.interfaces[0]?.address)
      await second.deleteEndpoint(nid, other)
      await second.deleteEndpoint(nid, eid)
      await second.deleteNetwork(nid)
    },
  },
]

/** A context for running the checks by hand (see {@link runConformance}). */
export async function conformanceContext(harness: DriverHarness): Promise<ConformanceContext & { keys: string[] }> {
  let n = 0
  const keys: string[] = []
  const driver = await harness.create()
  return {
    driver,
    harness,
    drivers: [driver],
    keys,
    async key() {
      const k = (await harness.sandboxKey?.()) ?? ''
      if (k) keys.push(k)
      return k
    },
    nextNetworkOptions: () => harness.networkOptions(n++),
    nextNetwork: () => {
      const i = n++
      if (harness.networkIpam) return [harness.networkOptions(i), harness.networkIpam(i)]
      const { options, ipam } = ipamFromOptions(harness.networkOptions(i))
      return [options, ipam]
    },
  }
}

/** Releases what a context made: sandbox keys, then every driver instance. */
export async function disposeContext(ctx: ConformanceContext & { keys: string[] }): Promise<void> {
  for (const k of ctx.keys) await ctx.harness.releaseSandboxKey?.(k)
  for (const d of ctx.drivers) await ctx.harness.dispose?.(d)
}

/**
 * Runs every check outside a test framework's `describe` and says which failed (used to show that
 * the suite fails a broken driver).
 */
export async function runConformance(harness: DriverHarness): Promise<{ name: string; error?: unknown }[]> {
  const ctx = await conformanceContext(harness)
  const results: { name: string; error?: unknown }[] = []
  try {
    for (const check of CONFORMANCE_CHECKS) {
      try {
        await check.run(ctx)
        results.push({ name: check.name })
      } catch (error) {
        results.push({ name: check.name, error })
      }
    }
  } finally {
    await disposeContext(ctx)
  }
  return results
}

/**
 * The conformance suite every cnm network driver passes: the contract's verbs, typed errors with
 * the shared codes, refusal of bad options before anything changes, join/leave, and for drivers
 * that persist: forget, strays and restore after a restart. Call it inside a test file (kernel
 * drivers: inside the harness that gives the file its own namespace).
 */
export function describeDriver(title: string, harness: DriverHarness): void {
  describe(`driver conformance: ${title}`, () => {
    let ctx: (ConformanceContext & { keys: string[] }) | undefined
    beforeAll(async () => {
      ctx = await conformanceContext(harness)
    })
    afterAll(async () => {
      if (ctx) await disposeContext(ctx)
    })
    for (const check of CONFORMANCE_CHECKS) {
      it(check.name, async () => {
        if (!ctx) throw new Error('the driver could not be created')
        await check.run(ctx)
      })
    }
  })
}
