import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ERR_ACTIVE_ENDPOINTS,
  ERR_ENDPOINT_EXISTS,
  ERR_INVALID_CONFIG,
  ERR_NETWORK_EXISTS,
  ERR_NO_ENDPOINT,
  ERR_NO_NETWORK,
} from '../errors.js'
import type { Driver, SandboxInfo } from '../types.js'

/** What the conformance suite needs to exercise a driver. */
export interface DriverHarness {
  /** A fresh, configured driver. Called once for the suite. */
  create(): Promise<Driver>
  /** Options for a new network that does not clash with any other (`i` counts networks). */
  networkOptions(i: number): unknown
  /** Options the driver must refuse with `ERR_INVALID_CONFIG`, before changing anything. */
  invalidNetworkOptions?: unknown[]
  /** The sandbox key to pass to `createEndpoint` (default `''`: the driver's host-side flow). */
  sandboxKey?(): Promise<string>
  /** Undo whatever `sandboxKey` made. */
  releaseSandboxKey?(key: string): Promise<void>
  /** Called after the suite. */
  dispose?(driver: Driver): Promise<void>
}

const newId = (): string => randomBytes(32).toString('hex')

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toMatchObject({ code })
}

function checkSandboxInfo(info: SandboxInfo): void {
  expect(Array.isArray(info.interfaces)).toBe(true)
  expect(info.interfaces.length).toBeGreaterThan(0)
  for (const i of info.interfaces) {
    expect(typeof i.srcName).toBe('string')
    expect(typeof i.dstName).toBe('string')
    if (i.address !== undefined) expect(i.address).toMatch(/^\d+\.\d+\.\d+\.\d+\/\d+$/u)
    if (i.addressIPv6 !== undefined) expect(i.addressIPv6).toMatch(/^[0-9a-f:]+\/\d+$/u)
  }
}

/**
 * The conformance suite every cnm network driver passes: the contract's verbs, typed errors with
 * the shared codes, refusal of bad options before anything changes, and repeated deletes that
 * neither leak nor crash. Call it inside a test file (kernel drivers: inside the harness that gives
 * the file its own namespace).
 */
export function describeDriver(title: string, harness: DriverHarness): void {
  describe(`driver conformance: ${title}`, () => {
    let driver: Driver
    let n = 0
    const keys: string[] = []
    const key = async (): Promise<string> => {
      const k = (await harness.sandboxKey?.()) ?? ''
      if (k) keys.push(k)
      return k
    }

    beforeAll(async () => {
      driver = await harness.create()
    })
    afterAll(async () => {
      for (const k of keys) await harness.releaseSandboxKey?.(k)
      if (driver) await harness.dispose?.(driver)
    })

    it('has a name', () => {
      expect(typeof driver.name).toBe('string')
      expect(driver.name.length).toBeGreaterThan(0)
    })

    it('creates and deletes a network; unknown or repeated ids get typed errors', async () => {
      const nid = newId()
      const opts = harness.networkOptions(n++)
      await driver.createNetwork(nid, opts)
      await expectCode(driver.createNetwork(nid, opts), ERR_NETWORK_EXISTS)
      await driver.deleteNetwork(nid)
      await expectCode(driver.deleteNetwork(nid), ERR_NO_NETWORK)
      await expectCode(driver.createEndpoint(nid, newId(), '', {}), ERR_NO_NETWORK)
      await expectCode(driver.deleteEndpoint(nid, newId()), ERR_NO_NETWORK)
    })

    it('creates endpoints with distinct addresses and refuses duplicates and active deletes', async () => {
      const nid = newId()
      await driver.createNetwork(nid, harness.networkOptions(n++))
      const [e1, e2] = [newId(), newId()]
      const info1 = await driver.createEndpoint(nid, e1, await key(), {})
      const info2 = await driver.createEndpoint(nid, e2, await key(), {})
      checkSandboxInfo(info1)
      checkSandboxInfo(info2)
      expect(info1.interfaces[0]?.address).not.toBe(info2.interfaces[0]?.address)
      await expectCode(driver.createEndpoint(nid, e1, '', {}), ERR_ENDPOINT_EXISTS)
      await expectCode(driver.deleteNetwork(nid), ERR_ACTIVE_ENDPOINTS)
      await driver.deleteEndpoint(nid, e1)
      await expectCode(driver.deleteEndpoint(nid, e1), ERR_NO_ENDPOINT)
      await driver.deleteEndpoint(nid, e2)
      await driver.deleteNetwork(nid)
    })

    it('refuses bad network options with ERR_INVALID_CONFIG and creates nothing', async () => {
      for (const bad of harness.invalidNetworkOptions ?? []) {
        const nid = newId()
        await expectCode(driver.createNetwork(nid, bad), ERR_INVALID_CONFIG)
        await expectCode(driver.deleteNetwork(nid), ERR_NO_NETWORK)
      }
    })
  })
}
