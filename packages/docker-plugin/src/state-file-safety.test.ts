import { spawnSync } from 'node:child_process'
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { journalFile } from './reservation-journal.js'
import { StateFile } from './state-file.js'

// Finding F6 of the adversarial review: the state file and its directory were not checked for
// owner or mode (a file another user planted, mode 0666, was taken as the plugin's state), and the
// temporary file's name (`<file>.<pid>.tmp`) could be guessed and pre-created so that every write
// failed. The chown cases need root (CI runs as root); the rest run as anyone.

const root = process.geteuid?.() === 0
const NOBODY = 65534
const N1 = 'a'.repeat(64)
const GOOD = JSON.stringify({ networks: {}, ipam: { pools: ['10.77.0.0/24'], addresses: {} } })

describe("the plugin's state file: cnm's own, in a directory only cnm can write", () => {
  let top: string
  let dir: string
  let file: string
  beforeEach(() => {
    top = mkdtempSync(path.join(tmpdir(), 'cnm-state-safety-'))
    dir = path.join(top, 'lib')
    mkdirSync(dir, { mode: 0o700 })
    file = path.join(dir, 'state.json')
  })
  afterEach(() => rmSync(top, { recursive: true, force: true }))

  const refusal = (message: string) =>
    expect.objectContaining({ code: 'ERR_DOCKER_STATE', kind: 'invalid', message: expect.stringContaining(message) })

  it('takes a file of its own uid, mode 0600 or 0644', () => {
    writeFileSync(file, GOOD, { mode: 0o600 })
    expect(new StateFile(file).reservations().pools).toEqual(['10.77.0.0/24'])
    chmodSync(file, 0o644)
    expect(new StateFile(file).reservations().pools).toEqual(['10.77.0.0/24'])
  })

  it.each([
    ['0666', 0o666],
    ['0620', 0o620],
    ['0602', 0o602],
  ])('refuses a state file others can write (mode %s)', (_mode, mode) => {
    writeFileSync(file, GOOD, { mode: 0o600 })
    chmodSync(file, mode)
    expect(() => new StateFile(file)).toThrow(
      refusal(`refusing the state file ${file}: it is writable by group or others`),
    )
  })

  it('refuses a journal others can write', () => {
    writeFileSync(journalFile(file), '["+p","10.77.0.0/24"]\n', { mode: 0o600 })
    chmodSync(journalFile(file), 0o666)
    expect(() => new StateFile(file)).toThrow(refusal(`${journalFile(file)}: it is writable by group or others`))
  })

  it('refuses a FIFO in place of the state file or the journal (without blocking on its open)', () => {
    const fifo = (f: string) => {
      // mkfifo is a system call Node does not offer; mkfifo(1) is in coreutils.
      expect(spawnSync('mkfifo', ['-m', '0600', f]).status).toBe(0)
    }
    fifo(file)
    expect(() => new StateFile(file)).toThrow(refusal('is not a regular file'))
    rmSync(file)
    fifo(journalFile(file))
    expect(() => new StateFile(file)).toThrow(refusal('is not a regular file'))
  })

  it.each([
    ['0777', 0o777],
    ['0770', 0o770],
    ['1777 (sticky, like /tmp)', 0o1777],
  ])('refuses a directory group or others can write (mode %s)', (_mode, mode) => {
    chmodSync(dir, mode)
    expect(() => new StateFile(file)).toThrow(refusal(`refusing the state directory ${dir}: it is writable`))
  })

  it('refuses a directory that is a symbolic link', () => {
    const link = path.join(top, 'link')
    symlinkSync(dir, link)
    expect(() => new StateFile(path.join(link, 'state.json'))).toThrow(
      refusal(`refusing the state directory ${link}: it is not a directory (or is a link)`),
    )
  })

  it('creates a missing directory 0700', () => {
    const made = path.join(top, 'made', 'here')
    new StateFile(path.join(made, 'state.json')).setNetwork(N1, { hostBindingIPv4: '127.0.0.1' })
    expect(statSync(made).mode & 0o777).toBe(0o700)
    expect(statSync(path.join(made, 'state.json')).mode & 0o777).toBe(0o600)
  })

  it.runIf(root)('refuses a state file or a journal of another uid (as root)', () => {
    writeFileSync(file, GOOD, { mode: 0o600 })
    chownSync(file, NOBODY, NOBODY)
    expect(() => new StateFile(file)).toThrow(refusal(`state file ${file}: it is owned by uid ${NOBODY}`))
    rmSync(file)
    writeFileSync(journalFile(file), '', { mode: 0o600 })
    chownSync(journalFile(file), NOBODY, NOBODY)
    expect(() => new StateFile(file)).toThrow(refusal(`it is owned by uid ${NOBODY}`))
  })

  it.runIf(root)('refuses a directory of another uid, even one only it can write (as root)', () => {
    chownSync(dir, NOBODY, NOBODY)
    expect(() => new StateFile(file)).toThrow(
      refusal(`refusing the state directory ${dir}: it is owned by uid ${NOBODY}`),
    )
  })

  it('writes through a temporary name nobody can guess, and pre-created names do not stop it', () => {
    const state = new StateFile(file)
    // What the old name would have been, for this and the next pids: planted, they made every write fail.
    for (let k = 0; k < 8; k++) writeFileSync(`${file}.${process.pid + k}.tmp`, '', { mode: 0o600 })
    const seen = new Set<string>()
    const watch = () => {
      for (const name of readdirSync(dir)) if (/\.[0-9a-f]{16}\.tmp$/u.test(name)) seen.add(name)
    }
    state.setNetwork(N1, { hostBindingIPv4: '127.0.0.1' })
    state.setNetwork(N1, { hostBindingIPv4: '127.0.0.2' })
    watch()
    expect(seen.size).toBe(0) // renamed away: nothing left
    expect(new StateFile(file).network(N1)).toEqual({ hostBindingIPv4: '127.0.0.2' })
  })

  it('removes the temporary files a crash left at start, and nothing else', () => {
    const leftovers = [`${file}.0123456789abcdef.tmp`, `${file}.4242.tmp`]
    for (const f of leftovers) closeSync(openSync(f, 'wx', 0o600))
    const kept = [`${file}.journal`, path.join(dir, 'other.json.0123456789abcdef.tmp'), `${file}.notes.tmp`]
    for (const f of kept) writeFileSync(f, '', { mode: 0o600 })
    new StateFile(file)
    for (const f of leftovers) expect(existsSync(f)).toBe(false)
    for (const f of kept) expect(existsSync(f)).toBe(true)
  })
})
