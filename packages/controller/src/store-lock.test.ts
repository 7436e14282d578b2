import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createController } from './controller.js'
import { ERR_STORE_LOCKED } from './errors.js'
import { Store } from './store.js'
import { lockPath, readLock, takeStoreLock } from './store-lock.js'

/** A process's start time as the lock records it (field 22 of /proc/<pid>/stat). */
function startOf(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? ''
}

describe('the store has one writer while a daemon runs (its lock file)', () => {
  let dir: string
  let file: string
  let other: ChildProcess | undefined

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'cnm-lock-'))
    file = path.join(dir, 'cnm.db')
  })
  afterEach(() => {
    other?.kill('SIGKILL')
    other = undefined
    rmSync(dir, { recursive: true, force: true })
  })

  /** Another live process "holds" the lock: what a daemon writes, with that process's pid. */
  function heldByAnother(socket = '/run/cnm/cnm.sock'): number {
    other = spawn('sleep', ['30'])
    const pid = other.pid ?? 0
    writeFileSync(lockPath(file), `${JSON.stringify({ pid, start: startOf(pid), socket })}\n`, { mode: 0o600 })
    return pid
  }

  it('a new store file, its WAL and its shared-memory file are readable by root alone', () => {
    const store = new Store(file, 1000, {})
    try {
      store.begin()
      store.commit()
      for (const f of [file, `${file}-wal`, `${file}-shm`])
        expect((statSync(f).mode & 0o777).toString(8), f).toBe('600')
    } finally {
      store.close()
    }
  })

  it('a store whose lock a live process holds is refused before anything is created, naming the daemon', async () => {
    const pid = heldByAnother()
    expect(() => new Store(file)).toThrow(
      expect.objectContaining({
        code: ERR_STORE_LOCKED,
        kind: 'conflict',
        holder: expect.objectContaining({ pid, socket: '/run/cnm/cnm.sock' }),
        message: expect.stringContaining(`pid ${pid}, socket /run/cnm/cnm.sock`),
      }),
    )
    expect(existsSync(file), 'no new store was made behind the daemon').toBe(false)
    await expect(createController({ storePath: file, sandboxDir: dir })).rejects.toMatchObject({
      code: ERR_STORE_LOCKED,
    })
    // A second daemon cannot take it either.
    expect(() => new Store(file, undefined, { socket: '/tmp/x.sock' })).toThrow(
      expect.objectContaining({ code: ERR_STORE_LOCKED }),
    )
  })

  it('a lock left by a process that is gone (killed) is taken over; a reused pid is not its holder', async () => {
    const pid = heldByAnother()
    other?.kill('SIGKILL')
    await new Promise((r) => other?.once('exit', r))
    other = undefined
    const s = new Store(file) // not held: opens
    s.close()
    // The daemon's open takes the lock over, and gives it back when it closes.
    const d = new Store(file, undefined, { socket: '/tmp/d.sock' })
    expect(d.lockTakenOver).toBe(true) // its last writer stopped without closing it
    expect(readLock(file)).toMatchObject({ pid: process.pid, socket: '/tmp/d.sock' })
    expect(readLock(file)?.pid).not.toBe(pid)
    d.close()
    expect(existsSync(lockPath(file))).toBe(false)
    const again = new Store(file, undefined, { socket: '/tmp/d.sock' }) // closed cleanly: free
    expect(again.lockTakenOver).toBe(false)
    again.close()
    // The same pid with another start time (a pid reused by an unrelated process) is stale too.
    other = spawn('sleep', ['30'])
    writeFileSync(lockPath(file), `${JSON.stringify({ pid: other.pid, start: 'not-its-start' })}\n`)
    const { release, tookOver } = takeStoreLock(file, undefined)
    expect(tookOver).toBe(true)
    expect(readLock(file)?.start).not.toBe('not-its-start')
    release()
  })

  it('never opens a store through a symlink', () => {
    const victim = path.join(dir, 'victim')
    writeFileSync(victim, 'root-owned\n')
    symlinkSync(victim, file)
    expect(() => new Store(file, undefined, {})).toThrow(expect.objectContaining({ code: 'ERR_STORE' }))
    expect(readFileSync(victim, 'utf8')).toBe('root-owned\n')
  })

  it('never follows a symlink at the lock path', () => {
    const victim = path.join(dir, 'victim')
    writeFileSync(victim, 'root-owned\n')
    symlinkSync(victim, lockPath(file))
    expect(() => new Store(file, undefined, {})).toThrow(expect.objectContaining({ code: ERR_STORE_LOCKED }))
    expect(readFileSync(victim, 'utf8')).toBe('root-owned\n')
  })
})
