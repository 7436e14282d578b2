// A network's IPAM data in the controller: handed to the driver as values, stored once as text
// (`network_ipam`), given back as values after a restart; overlaps refused by the controller itself,
// for every driver, before the driver is called. Root-free: the in-memory driver.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { type Driver, type NetworkIpam, parseIpam } from '@cnm/driverapi'
import { createMemoryDriver, createMemoryKernel } from '@cnm/driverapi/testing'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createController } from './controller.js'
import { createMemorySandboxes } from './testing/memory-sandboxes.js'

const ipam = (cidr: string): NetworkIpam => parseIpam({ v4: [{ subnet: cidr }] })

let dir = ''
const open: { close(): Promise<void> }[] = []
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cnm-ipam-'))
})
afterEach(async () => {
  for (const c of open.splice(0)) await c.close().catch(() => undefined)
  rmSync(dir, { recursive: true, force: true })
})

/** A controller on this test's store whose `memory` driver records what `createNetwork` was given. */
async function controllerWith(calls: { options: unknown; ipam: NetworkIpam | undefined }[], persistent = true) {
  const kernel = createMemoryKernel()
  const c = await createController({
    storePath: path.join(dir, 'cnm.db'),
    sandboxBackend: createMemorySandboxes(path.join(dir, 'netns')),
    drivers: {
      memory: ({ owner }): Driver => {
        const d = createMemoryDriver({ kernel, owner, persistent })
        return {
          ...d,
          createNetwork: (nid, options, given) => {
            calls.push({ options, ipam: given })
            return d.createNetwork(nid, options, given)
          },
        }
      },
    },
  })
  open.push(c)
  return { c, kernel }
}

describe('IPAM data through the controller', () => {
  it('reaches the driver as parsed values, and the store keeps it as canonical text', async () => {
    const calls: { options: unknown; ipam: NetworkIpam | undefined }[] = []
    const { c } = await controllerWith(calls)
    const driver = await c.newNetworkDriver('memory')
    const net = await c.newNetwork(driver, 'values', { internal: true }, { ipam: ipam('10.3.0.0/24') })
    expect(calls[0]?.options).toEqual({ internal: true })
    expect(calls[0]?.ipam?.v4[0]?.subnet).toMatchObject({ cidr: '10.3.0.0/24', family: 4 })
    expect(net.inspect().subnet).toBe('10.3.0.0/24')
    // A caller of the older shape: `addressIPv4` converted once, at the controller's edge.
    await c.newNetwork(driver, 'legacy', { addressIPv4: '10.4.0.1/24' })
    expect(calls[1]?.options).toEqual({})
    expect(calls[1]?.ipam?.v4[0]?.gateway?.text).toBe('10.4.0.1')
    const db = new Database(path.join(dir, 'cnm.db'), { readonly: true })
    try {
      const rows = db.prepare('SELECT ipam FROM network_ipam').all() as { ipam: string }[]
      expect(rows.map((r) => JSON.parse(r.ipam))).toEqual(
        expect.arrayContaining([
          { v4: [{ subnet: '10.3.0.0/24' }] },
          { v4: [{ subnet: '10.4.0.0/24', gateway: '10.4.0.1' }] },
        ]),
      )
    } finally {
      db.close()
    }
  })

  it('refuses old option keys beside IPAM data (ERR_INVALID_CONFIG) before the driver is called', async () => {
    const calls: { options: unknown; ipam: NetworkIpam | undefined }[] = []
    const { c } = await controllerWith(calls)
    const driver = await c.newNetworkDriver('memory')
    await expect(
      c.newNetwork(driver, 'both', { addressIPv4: '10.3.0.1/24' }, { ipam: ipam('10.3.0.0/24') }),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_CONFIG', kind: 'invalid' })
    expect(calls).toEqual([])
    expect(c.networks()).toEqual([])
  })

  it('gives a driver without persistence its IPAM data again after a restart (parsed from the store)', async () => {
    const first = await controllerWith([], false)
    const driver = await first.c.newNetworkDriver('memory')
    await first.c.newNetwork(driver, 'kept', {}, { ipam: ipam('10.6.0.0/24') })
    await first.c.close()
    const calls: { options: unknown; ipam: NetworkIpam | undefined }[] = []
    const second = await controllerWith(calls, false)
    expect(second.c.networkByName('kept')?.inspect().subnet).toBe('10.6.0.0/24')
    expect(calls[0]?.ipam?.v4[0]?.subnet.cidr).toBe('10.6.0.0/24')
  })
})

describe('ERR_NETWORK_OVERLAPS from the controller itself', () => {
  it('names the network in the way, for any driver, before the driver is called', async () => {
    const calls: { options: unknown; ipam: NetworkIpam | undefined }[] = []
    const { c, kernel } = await controllerWith(calls)
    const driver = await c.newNetworkDriver('memory')
    await c.newNetwork(driver, 'first', {}, { ipam: ipam('10.7.0.0/24') })
    const links = kernel.links.size
    for (const cidr of ['10.7.0.0/24', '10.7.0.0/16', '10.0.0.0/8']) {
      await expect(c.newNetwork(driver, 'second', {}, { ipam: ipam(cidr) })).rejects.toMatchObject({
        code: 'ERR_NETWORK_OVERLAPS',
        kind: 'conflict',
        message: `network second: subnet ${cidr} overlaps network first (10.7.0.0/24)`,
      })
    }
    expect(calls).toHaveLength(1) // the driver saw only the first network
    expect(kernel.links.size).toBe(links)
    expect(c.networks().map((n) => n.name)).toEqual(['first'])
    // A network whose subnet the driver chose is in the way too.
    const chosen = await c.newNetwork(driver, 'chosen', {})
    const subnet = chosen.inspect().subnet as string
    await expect(c.newNetwork(driver, 'third', {}, { ipam: ipam(subnet) })).rejects.toMatchObject({
      code: 'ERR_NETWORK_OVERLAPS',
      message: expect.stringContaining(`overlaps network chosen (${subnet})`),
    })
    // Not overlapping: created.
    await c.newNetwork(driver, 'fourth', {}, { ipam: ipam('10.8.0.0/24') })
  })
})
