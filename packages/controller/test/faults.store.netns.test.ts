import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, truncateSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Agent, describeKernel, run, useHostNetns } from '@cnm/netlink/testing'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createController } from '../src/controller.js'
import { ERR_STORE, ERR_STORE_MISMATCH } from '../src/errors.js'
import type { Network, Sandbox } from '../src/types.js'
import {
  differences,
  kernelSnapshot,
  leftovers,
  removeTree,
  settle,
  summary,
  tryRemove,
  Worker,
} from './faults.test-util.js'

/**
 * Faults of the store (issue 21, items 7 and 8 and the fault suite): truncated, deleted, read-only
 * and full, with no controller running and under a running one. A store cnm cannot trust is refused
 * with a typed error (`ERR_STORE_MISMATCH`, `ERR_STORE`) and nothing in the kernel changes; what a
 * failed commit could not undo is put back by the next operation; the documented way out
 * (`onStoreMismatch: 'remove-orphans'`) leaves nothing behind; traffic works where it should.
 */

type Controller = Awaited<ReturnType<typeof createController>>

const SUBNET = '10.72.0.1/24'
const HOST_PORT = 18072

interface Setup {
  c: Controller
  net: Network
  s1: Sandbox
  s2: Sandbox
  bridge: string
}

describeKernel('fault suite: the store (kernel)', () => {
  const host = useHostNetns()
  let tmp: string
  let sandboxDir: string
  let hostAgent: Agent
  const agents: Agent[] = []
  const counts = { injected: 0, refusedTyped: 0, repaired: 0, leaks: 0 }

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'cnm-faults-s-'))
    sandboxDir = path.join(host.dir, 'sandboxes')
    hostAgent = await Agent.start('host')
  })
  afterAll(async () => {
    console.log(summary('store faults', counts))
    await hostAgent?.stop()
    for (const a of agents) await a.stop()
    removeTree(tmp)
    tryRemove(sandboxDir)
  })

  /** A network, two sandboxes on it, a server in s1 published on HOST_PORT. */
  async function build(c: Controller): Promise<Setup> {
    const net = await c.newNetwork(await c.newNetworkDriver('bridge'), 'sf', { addressIPv4: SUBNET })
    const [s1, s2] = [await c.newSandbox('sf-s1'), await c.newSandbox('sf-s2')]
    await net.connect(s1, 'sf1', { portBindings: [{ proto: 'tcp', containerPort: 80, hostPort: HOST_PORT }] })
    await net.connect(s2, 'sf2')
    const server = await Agent.start('s1', s1.key)
    await server.listen('tcp', 80)
    agents.push(server)
    return { c, net, s1, s2, bridge: net.inspect().device ?? '' }
  }

  /** The published port answers from s1 (containers keep working whatever happens to the store). */
  async function published(): Promise<boolean> {
    const r = await hostAgent.connect('tcp', '127.0.0.1', HOST_PORT, 1500)
    return r.ok && r.name === 's1'
  }

  async function stopAgents(): Promise<void> {
    for (const a of agents.splice(0)) await a.stop()
  }

  /** Removes everything the store records, then checks nothing is left. */
  async function removeAll(c: Controller): Promise<void> {
    await stopAgents()
    for (const sb of c.sandboxes()) await sb.destroy()
    for (const n of c.networks()) {
      for (const e of n.endpoints()) await e.delete()
      await n.delete()
    }
    expect(differences(c.store, sandboxDir)).toEqual([])
    await c.close()
    expect(leftovers(sandboxDir)).toEqual([])
  }

  /** `onStoreMismatch: 'remove-orphans'` removes every orphan; the same set-up can then be built again. */
  async function removeOrphansAndRebuild(storePath: string, bridge: string): Promise<void> {
    await stopAgents()
    const c = await createController({ storePath, sandboxDir, onStoreMismatch: 'remove-orphans' })
    const r = c.lastReconcile
    expect(r.errors).toEqual([])
    // (The veths may go with their namespaces before they are listed as strays.)
    expect(r.removedLinks).toContain(bridge)
    expect(r.removedFirewallNetworks).toEqual([bridge])
    expect(r.removedNamespaces.sort()).toEqual(['sf-s1', 'sf-s2'].map((n) => path.join(sandboxDir, n)))
    expect(await settle(() => leftovers(sandboxDir)), 'nothing of the orphans is left').toEqual([])
    expect(differences(c.store, sandboxDir)).toEqual([])
    counts.repaired++
    // No raw EEXIST from a leftover: the same names, subnet and port work again.
    await build(c)
    expect(await published()).toBe(true)
    expect(differences(c.store, sandboxDir)).toEqual([])
    await removeAll(c)
  }

  function checkpoint(storePath: string): void {
    const db = new Database(storePath)
    db.pragma('wal_checkpoint(TRUNCATE)') // the data is in the database file, the WAL is empty
    db.close()
  }

  it('a store truncated while no controller runs is refused (ERR_STORE_MISMATCH), then its orphans removed', async () => {
    const storePath = path.join(tmp, 'stopped.db')
    const s = await build(await createController({ storePath, sandboxDir }))
    await s.c.close()
    truncateSync(storePath, 0)
    rmSync(`${storePath}-wal`, { force: true })
    rmSync(`${storePath}-shm`, { force: true })
    counts.injected++
    const before = kernelSnapshot(sandboxDir)
    await expect(createController({ storePath, sandboxDir })).rejects.toMatchObject({
      code: ERR_STORE_MISMATCH,
      message: expect.stringContaining('2 namespace(s)'),
    })
    counts.refusedTyped++
    expect(kernelSnapshot(sandboxDir), 'the refusal changed nothing').toEqual(before)
    expect(await published(), 'containers keep working').toBe(true)
    await removeOrphansAndRebuild(storePath, s.bridge)
  })

  for (const variant of ['the database file', 'the database file, its WAL and shared memory'] as const) {
    it(`a running controller refuses to go on once ${variant} is truncated under it`, async () => {
      const storePath = path.join(tmp, `running-${variant.length}.db`)
      const s = await build(await createController({ storePath, sandboxDir }))
      const d = await s.c.newNetworkDriver('bridge')
      checkpoint(storePath)
      truncateSync(storePath, 0)
      if (variant !== 'the database file') {
        rmSync(`${storePath}-wal`)
        rmSync(`${storePath}-shm`)
      }
      counts.injected++
      const before = kernelSnapshot(sandboxDir)
      const refused = { code: ERR_STORE_MISMATCH, kind: 'unavailable', message: expect.stringContaining('truncated') }
      await expect(s.c.newNetwork(d, 'sf-b', { addressIPv4: '10.73.0.1/24' })).rejects.toMatchObject(refused)
      await expect(s.c.newSandbox('sf-s3')).rejects.toMatchObject(refused)
      await expect(s.net.connect(s.s2, 'sf2b', {}, { allowSameNetwork: true })).rejects.toMatchObject(refused)
      await expect(s.s1.destroy()).rejects.toMatchObject(refused)
      await expect(s.c.reconcile()).rejects.toMatchObject(refused)
      counts.refusedTyped++
      expect(kernelSnapshot(sandboxDir), 'the refusals changed nothing').toEqual(before)
      expect(await published(), 'containers keep working').toBe(true)
      await s.c.close()
      await expect(createController({ storePath, sandboxDir })).rejects.toMatchObject({ code: ERR_STORE_MISMATCH })
      await removeOrphansAndRebuild(storePath, s.bridge)
    })
  }

  it('a store deleted while a controller runs: it refuses to go on, and a new process does not start a new store', async () => {
    const storePath = path.join(tmp, 'deleted.db')
    const s = await build(await createController({ storePath, sandboxDir }))
    for (const f of ['', '-wal', '-shm']) rmSync(`${storePath}${f}`)
    counts.injected++
    const before = kernelSnapshot(sandboxDir)
    const refused = { code: ERR_STORE_MISMATCH, kind: 'unavailable', message: expect.stringContaining('removed') }
    await expect(s.c.newSandbox('sf-s3')).rejects.toMatchObject(refused)
    await expect(s.c.networkByName('sf')?.endpoints()[0]?.delete()).rejects.toMatchObject(refused)
    // Another process on the same path: refused too (the identity beside the store), nothing changes.
    await expect(createController({ storePath, sandboxDir })).rejects.toMatchObject({ code: ERR_STORE_MISMATCH })
    counts.refusedTyped++
    expect(kernelSnapshot(sandboxDir)).toEqual(before)
    expect(await published()).toBe(true)
    await s.c.close()
    await removeOrphansAndRebuild(storePath, s.bridge)
  })

  it('a read-only store is refused with ERR_STORE and changes nothing; a running controller keeps its open store', async () => {
    const dir = path.join(tmp, 'ro')
    mkdirSync(dir)
    const storePath = path.join(dir, 'cnm.db')
    const s = await build(await createController({ storePath, sandboxDir }))
    const readOnly = (): void => {
      run('mount', ['--bind', dir, dir])
      run('mount', ['-o', 'remount,bind,ro', dir])
    }
    try {
      // Under a running controller (a file system cannot be remounted read-only under open files,
      // so the view other processes get is made read-only): it goes on, another process is refused.
      readOnly()
      counts.injected++
      const before = kernelSnapshot(sandboxDir)
      const other = new Worker(storePath, sandboxDir)
      expect(await other.opened).toMatchObject({ ready: false, code: ERR_STORE, kind: 'unavailable' })
      expect(kernelSnapshot(sandboxDir), 'a refused process changed nothing').toEqual(before)
      const s3 = await s.c.newSandbox('sf-s3')
      await s.net.connect(s3, 'sf3')
      await s3.destroy()
      run('umount', [dir])
      // With no controller running.
      await s.c.close()
      readOnly()
      counts.injected++
      await expect(createController({ storePath, sandboxDir })).rejects.toMatchObject({
        code: ERR_STORE,
        kind: 'unavailable',
      })
      counts.refusedTyped++
      expect(kernelSnapshot(sandboxDir)).toEqual(before)
      expect(await published()).toBe(true)
      // A refused open holds nothing open: the read-only view can be unmounted (EBUSY otherwise).
      run('umount', [dir])
    } finally {
      run('umount', [dir], { check: false })
    }
    const c = await createController({ storePath, sandboxDir })
    expect(c.lastReconcile).toMatchObject({ errors: [], rebuiltNetworks: [], removedLinks: [], droppedEndpoints: [] })
    expect(differences(c.store, sandboxDir)).toEqual([])
    counts.repaired++
    await removeAll(c)
  })

  it('a full store: every verb fails with ERR_STORE, creations leave nothing, and what a delete did is repaired', async () => {
    const dir = path.join(tmp, 'full')
    mkdirSync(dir)
    run('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', dir])
    const filler = path.join(dir, 'filler')
    try {
      const storePath = path.join(dir, 'cnm.db')
      const s = await build(await createController({ storePath, sandboxDir }))
      const d = await s.c.newNetworkDriver('bridge')
      const spare = await s.c.newNetwork(d, 'sf-spare', { addressIPv4: '10.74.0.1/24' })
      const s3 = await s.c.newSandbox('sf-s3')
      checkpoint(storePath)
      // Fill the file system: every commit must grow the WAL, and cannot.
      const fd = openSync(filler, 'w')
      try {
        for (;;) writeSync(fd, Buffer.alloc(16384))
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
      } finally {
        closeSync(fd)
      }
      counts.injected++
      const full = { code: ERR_STORE, kind: 'unavailable', message: expect.stringContaining('full') }
      const before = kernelSnapshot(sandboxDir)
      await expect(s.c.newNetwork(d, 'sf-b', { addressIPv4: '10.73.0.1/24' })).rejects.toMatchObject(full)
      await expect(s.c.newSandbox('sf-s4')).rejects.toMatchObject(full)
      const bind = { portBindings: [{ proto: 'tcp', containerPort: 80, hostPort: 18073 }] }
      await expect(s.net.connect(s3, 'sf3', bind)).rejects.toMatchObject(full)
      await expect(s.net.createEndpoint('sf-e', undefined, bind)).rejects.toMatchObject(full)
      expect(kernelSnapshot(sandboxDir), 'a failed creation leaves nothing behind').toEqual(before)
      // Deletes: their kernel part is done before the commit fails, and cannot be undone.
      const sf2 = s.net.endpoints().find((e) => e.name === 'sf2')
      await expect(sf2?.delete()).rejects.toMatchObject(full)
      await expect(s3.destroy()).rejects.toMatchObject(full)
      await expect(spare.delete()).rejects.toMatchObject(full)
      counts.refusedTyped++
      expect(await published(), 'containers keep working').toBe(true)
      rmSync(filler)
      // A failed delete can be tried again at once: the operation first puts the kernel and its
      // memory back in line with the store (the network's bridge is rebuilt), then deletes.
      await spare.delete()
      const report = await s.c.reconcile()
      expect(report.errors).toEqual([])
      expect(report.rebuiltNetworks).toEqual(['sf-spare']) // its record survived: its bridge came back
      expect(report.droppedEndpoints).toEqual(['sf2']) // its veth is gone: so is its record
      expect(report.droppedSandboxes).toEqual([s3.key]) // so is its namespace
      expect(differences(s.c.store, sandboxDir)).toEqual([])
      counts.repaired++
      // And every verb works again.
      const s4 = await s.c.newSandbox('sf-s4')
      await s.net.connect(s4, 'sf4', bind)
      await (await s.c.newNetwork(d, 'sf-b', { addressIPv4: '10.73.0.1/24' })).delete()
      expect(await published()).toBe(true)
      expect(differences(s.c.store, sandboxDir)).toEqual([])
      await removeAll(s.c)
    } finally {
      rmSync(filler, { force: true })
      run('umount', [dir], { check: false })
    }
  })
})
