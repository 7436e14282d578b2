import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createClient } from '@cnm/client'
import { createController } from '@cnm/controller'
import { describeKernel, useHostNetns } from '@cnm/netlink/testing'
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest'
import { cnm, fails, ok, type Started, start, stop } from './test/cnm.js'

/**
 * One store, one writer while a daemon runs (issue 21 item 8): `cnm serve` holds `<store>.lock`;
 * a `cnm` process given the same store goes through that daemon instead of writing behind its
 * back; a second daemon is refused naming the first; the store deleted under the running daemon
 * is noticed (it refuses to write, and no other process makes a new store meanwhile); a lock left
 * by a killed daemon is taken over.
 */
describeKernel('the store has one writer while the daemon runs (kernel, the real binary)', () => {
  const host = useHostNetns()
  let tmp: string
  let store: string
  let sandboxDir: string
  let socketPath: string
  const daemons: Started[] = []
  const g = (...args: string[]): string[] => ['--store', store, '--sandbox-dir', sandboxDir, ...args]
  const serve = async (): Promise<Started> => {
    const d = await start(g('serve', '--socket', socketPath, '--log-level', 'warn'), 1)
    daemons.push(d)
    return d
  }

  let n = 0
  beforeAll(() => {
    tmp = mkdtempSync(path.join(tmpdir(), 'cnm-lock-'))
    sandboxDir = path.join(host.dir, 'sb')
    socketPath = path.join(tmp, 'cnm.sock')
  })
  beforeEach(() => {
    store = path.join(tmp, `cnm-${++n}.db`) // a store of its own per test
  })
  afterEach(async () => {
    for (const d of daemons.splice(0)) await stop(d.child, 'SIGKILL')
    for (const n of JSON.parse(cnm(g('network', 'ls', '--json')).stdout || '[]') as { id: string }[]) {
      cnm(g('network', 'rm', n.id))
    }
  })
  afterAll(() => {
    rmSync(tmp, { recursive: true, force: true })
    rmSync(sandboxDir, { recursive: true, force: true })
  })

  it("a cnm process on the daemon's store goes through the daemon; a second daemon is refused, naming the first", async () => {
    const d = await serve()
    const lock = JSON.parse(readFileSync(`${store}.lock`, 'utf8')) as { pid: number; socket: string }
    expect(lock).toMatchObject({ pid: d.child.pid, socket: socketPath })
    // --store means "in process", but the daemon holds that store: the work is the daemon's.
    ok(g('network', 'create', 'via', '--subnet', '10.215.0.0/24'))
    const client = createClient({ host: `unix://${socketPath}` })
    try {
      expect((await client.listNetworks()).map((n) => n.name)).toEqual(['via'])
      expect(JSON.parse(cnm(g('info', '--json')).stdout)).toMatchObject({ mode: 'daemon' })
    } finally {
      client.close()
    }
    const second = fails(g('serve', '--socket', path.join(tmp, 'other.sock')), 'ERR_STORE_LOCKED')
    expect(second).toContain(`pid ${d.child.pid}, socket ${socketPath}`)
    ok(g('network', 'rm', 'via'))
    // SIGTERM: the lock goes with the daemon; in process again.
    daemons.splice(daemons.indexOf(d), 1)
    expect(await stop(d.child, 'SIGTERM')).toBe(0)
    expect(existsSync(`${store}.lock`)).toBe(false)
    expect(JSON.parse(cnm(g('info', '--json')).stdout)).toMatchObject({ mode: 'in-process' })
  }, 60_000)

  it('the store deleted under the running daemon: it refuses to write, and nobody makes a new one behind it', async () => {
    await serve()
    ok(g('network', 'create', 'gone', '--subnet', '10.216.0.0/24'))
    for (const f of [store, `${store}-wal`, `${store}-shm`]) rmSync(f, { force: true })
    const client = createClient({ host: `unix://${socketPath}` })
    try {
      await expect(client.createNetwork({ name: 'after', subnet: '10.217.0.0/24' })).rejects.toMatchObject({
        code: 'ERR_STORE_MISMATCH',
        message: expect.stringContaining('was removed while this process had it open'),
      })
    } finally {
      client.close()
    }
    // Another cnm process on that store goes through the daemon (which refuses): no new store.
    fails(g('network', 'create', 'split', '--subnet', '10.218.0.0/24'), 'ERR_STORE_MISMATCH')
    expect(existsSync(store), 'no second store beside the daemon').toBe(false)
    // What the lost store held is removed by its documented way out (the store's id is kept beside it).
    const d = daemons.splice(0, 1)[0]
    if (d) await stop(d.child, 'SIGTERM')
    const c = await createController({ storePath: store, sandboxDir, onStoreMismatch: 'remove-orphans' })
    expect(c.lastReconcile.removedLinks.length).toBeGreaterThan(0) // the lost network's bridge
    await c.close()
  }, 60_000)

  it('a lock left by a killed daemon is taken over by the next one', async () => {
    const d = await serve()
    daemons.splice(daemons.indexOf(d), 1)
    expect(await stop(d.child, 'SIGKILL')).toBe(null)
    expect(existsSync(`${store}.lock`)).toBe(true)
    const next = await serve()
    expect(JSON.parse(readFileSync(`${store}.lock`, 'utf8'))).toMatchObject({ pid: next.child.pid })
  }, 60_000)
})
