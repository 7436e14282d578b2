import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openNetns } from './bind.js'

/** How long the helper waits before opening the FIFO's other end (what would end a blocked open). */
const UNBLOCK_AFTER_MS = 4000

describe('openNetns refuses what is not a namespace file without opening it', () => {
  let dir: string
  const helpers: ChildProcess[] = []

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'cnm-cni-bind-'))
  })

  afterEach(() => {
    for (const h of helpers.splice(0)) h.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  })

  it('a FIFO as CNI_NETNS: ERR_CNI_NETNS at once, never an open(2) that blocks the thread', () => {
    const fifo = path.join(dir, 'netns')
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0)
    // Opens the FIFO's write end a few seconds from now: an open of its read end would block
    // until then (forever in a daemon, where nobody ever writes), and fail only afterwards.
    const helper = spawn(process.execPath, [
      '-e',
      `setTimeout(() => require('node:fs').openSync(${JSON.stringify(fifo)}, 'w'), ${UNBLOCK_AFTER_MS})`,
    ])
    helpers.push(helper)
    const started = performance.now()
    let error: unknown
    try {
      openNetns(fifo)
    } catch (err) {
      error = err
    }
    const elapsed = performance.now() - started
    expect(error).toMatchObject({ code: 'ERR_CNI_NETNS', kind: 'not-found' })
    expect((error as Error).message).toContain(fifo)
    expect(elapsed).toBeLessThan(UNBLOCK_AFTER_MS / 2)
  })

  it('a regular file, a directory, a missing path: ERR_CNI_NETNS naming the path', () => {
    const file = path.join(dir, 'file')
    writeFileSync(file, '')
    const sub = path.join(dir, 'sub')
    mkdirSync(sub)
    for (const p of [file, sub, path.join(dir, 'missing')]) {
      expect(() => openNetns(p)).toThrow(
        expect.objectContaining({ code: 'ERR_CNI_NETNS', message: expect.stringContaining(p) }),
      )
    }
  })
})
