// Network labels (Docker's --label): checked before anything changes, stored, back after a restart
// and in another process's view; dropped with the network. Root-free: the in-memory driver.
import path from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { parseLabels } from './labels.js'
import { memoryControllerFixture } from './testing/memory-controller.js'

const fx = memoryControllerFixture('labels')
beforeEach(() => fx.setUp())
afterEach(() => fx.tearDown())
const controller = () => fx.controller()

describe('parseLabels', () => {
  it('takes key: value strings, empty values included', () => {
    expect(parseLabels({ 'com.example.team': 'net', empty: '' })).toEqual({ 'com.example.team': 'net', empty: '' })
    expect(parseLabels(undefined)).toEqual({})
  })

  it.each([
    [['a=b'], 'labels must be an object'],
    [{ '': 'x' }, 'invalid label key ""'],
    [{ 'a=b': 'x' }, 'invalid label key "a=b"'],
    [{ a: 1 }, 'invalid value of label a'],
    [{ a: 'x\ny' }, 'invalid value of label a'],
  ])('refuses %j with ERR_INVALID_LABEL', (labels, message) => {
    expect(() => parseLabels(labels)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_LABEL', kind: 'invalid' }))
    expect(() => parseLabels(labels)).toThrow(message)
  })
})

describe('network labels in the controller', () => {
  it('are stored with the network, survive a restart, reach another process and go with the network', async () => {
    const a = await controller()
    const driver = await a.newNetworkDriver('memory')
    const n = await a.newNetwork(driver, 'labelled', {}, { labels: { team: 'net', tier: 'front' } })
    await a.newNetwork(driver, 'plain', {})
    expect(n.inspect().labels).toEqual({ team: 'net', tier: 'front' })
    expect(Date.parse(n.inspect().created ?? '')).toBeGreaterThan(Date.now() - 60_000)
    const b = await controller() // another process on the same store
    await b.refresh()
    expect(b.networkByName('labelled')?.inspect().labels).toEqual({ team: 'net', tier: 'front' })
    expect(b.networkByName('plain')?.inspect().labels).toEqual({})
    await a.close()
    await b.close()

    const c = await controller() // a restart
    const again = c.networkByName('labelled')
    expect(again?.inspect().labels).toEqual({ team: 'net', tier: 'front' })
    expect(again?.inspect().created).toBe(n.inspect().created)
    await again?.delete()
    await c.close()
    const db = new Database(path.join(fx.dir, 'cnm.db'), { readonly: true })
    expect(db.prepare('SELECT COUNT(*) AS n FROM network_labels').get()).toEqual({ n: 0 })
    db.close()
  })

  it('refuses bad labels before the driver is called', async () => {
    const c = await controller()
    const driver = await c.newNetworkDriver('memory')
    await expect(c.newNetwork(driver, 'bad', {}, { labels: { '': 'x' } })).rejects.toMatchObject({
      code: 'ERR_INVALID_LABEL',
    })
    expect(c.networks()).toEqual([])
    expect([...fx.kernel.links.keys()]).toEqual([])
  })
})
