import { appendFileSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { journalFile, replayReservationJournal, reservationChanges } from './reservation-journal.js'
import { type IpamReservations, StateFile } from './state-file.js'

const NONE: IpamReservations = { pools: [], addresses: {} }
const lines = (file: string): string[] => readFileSync(file, 'utf8').split('\n').filter(Boolean)

describe('IPAM reservations: a journal of changes beside the state file', () => {
  let dir: string
  let file: string
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'cnm-journal-'))
    file = path.join(dir, 'state.json')
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it('says what changed: pools, then addresses, each line present or absent', () => {
    const before = { pools: ['10.1.0.0/24', '10.2.0.0/24'], addresses: { '10.1.0.0/24': ['10.1.0.2', '10.1.0.3'] } }
    const after = { pools: ['10.1.0.0/24', '10.3.0.0/24'], addresses: { '10.1.0.0/24': ['10.1.0.3', '10.1.0.4'] } }
    expect(reservationChanges(before, after)).toEqual([
      ['+p', '10.3.0.0/24'],
      ['-p', '10.2.0.0/24'],
      ['+a', '10.1.0.0/24', '10.1.0.4'],
      ['-a', '10.1.0.0/24', '10.1.0.2'],
    ])
    expect(reservationChanges(after, after)).toEqual([])
  })

  it('appends one line per change, replaces no file, and a new process reads the file and the journal', () => {
    const state = new StateFile(file)
    state.setReservations({ pools: ['10.1.0.0/24'], addresses: {} })
    state.setReservations({ pools: ['10.1.0.0/24'], addresses: { '10.1.0.0/24': ['10.1.0.2'] } })
    state.setReservations({ pools: ['10.1.0.0/24'], addresses: { '10.1.0.0/24': ['10.1.0.2', '10.1.0.3'] } })
    state.setReservations({ pools: ['10.1.0.0/24'], addresses: { '10.1.0.0/24': ['10.1.0.3'] } })
    expect(lines(journalFile(file))).toEqual([
      '["+p","10.1.0.0/24"]',
      '["+a","10.1.0.0/24","10.1.0.2"]',
      '["+a","10.1.0.0/24","10.1.0.3"]',
      '["-a","10.1.0.0/24","10.1.0.2"]',
    ])
    expect(() => readFileSync(file)).toThrow(expect.objectContaining({ code: 'ENOENT' })) // nothing renamed yet
    const again = new StateFile(file)
    expect(again.reservations()).toEqual({ pools: ['10.1.0.0/24'], addresses: { '10.1.0.0/24': ['10.1.0.3'] } })
    // Folded into the file at start: the journal is empty again, the file holds it all.
    expect(readFileSync(journalFile(file), 'utf8')).toBe('')
    expect(JSON.parse(readFileSync(file, 'utf8')).ipam).toEqual(again.reservations())
  })

  it('replayed again onto a file that already holds it (a crash between the fold and the truncation), it changes nothing', () => {
    const state = new StateFile(file)
    state.setReservations({ pools: ['10.1.0.0/24'], addresses: { '10.1.0.0/24': ['10.1.0.2'] } })
    state.setReservations({ pools: ['10.1.0.0/24'], addresses: {} })
    state.setReservations({ pools: ['10.1.0.0/24'], addresses: { '10.1.0.0/24': ['10.1.0.2'] } })
    const journal = readFileSync(journalFile(file), 'utf8')
    const folded = new StateFile(file).reservations()
    writeFileSync(journalFile(file), journal) // as if the truncation never happened
    expect(new StateFile(file).reservations()).toEqual(folded)
    expect(folded).toEqual({ pools: ['10.1.0.0/24'], addresses: { '10.1.0.0/24': ['10.1.0.2'] } })
  })

  it('ignores a torn last line (a crash in the middle of the write) and refuses any other line that is not a change', () => {
    writeFileSync(journalFile(file), '["+p","10.1.0.0/24"]\n["+a","10.1.0')
    expect(replayReservationJournal(journalFile(file), NONE)).toEqual({
      reservations: { pools: ['10.1.0.0/24'], addresses: {} },
      lines: 1,
      torn: true,
    })
    appendFileSync(journalFile(file), '\n')
    expect(() => new StateFile(file)).toThrow(
      expect.objectContaining({ code: 'ERR_DOCKER_STATE', message: expect.stringContaining('line 2') }),
    )
    writeFileSync(journalFile(file), '["+x","10.1.0.0/24"]\n')
    expect(() => new StateFile(file)).toThrow(expect.objectContaining({ code: 'ERR_DOCKER_STATE' }))
  })

  it('never follows a symbolic link in place of the journal', () => {
    const state = new StateFile(file)
    const elsewhere = path.join(dir, 'elsewhere')
    writeFileSync(elsewhere, '')
    symlinkSync(elsewhere, journalFile(file))
    expect(() => new StateFile(file)).toThrow(expect.objectContaining({ code: 'ERR_DOCKER_STATE' }))
    expect(() => state.setReservations({ pools: ['10.1.0.0/24'], addresses: {} })).toThrow(
      expect.objectContaining({ code: 'ERR_DOCKER_STATE' }),
    )
    expect(readFileSync(elsewhere, 'utf8')).toBe('')
  })

  it('folds the journal into the file after 512 lines, and with any other change of the file', () => {
    const state = new StateFile(file)
    const addresses = Array.from({ length: 513 }, (_, i) => `10.1.${i >> 8}.${i & 255}`)
    for (let i = 1; i <= 513; i++) {
      state.setReservations({ pools: [], addresses: { '10.1.0.0/16': addresses.slice(0, i) } })
    }
    // 512 lines appended, the 513th change written to the file: the journal is empty again.
    expect(readFileSync(journalFile(file), 'utf8')).toBe('')
    expect(JSON.parse(readFileSync(file, 'utf8')).ipam.addresses['10.1.0.0/16']).toHaveLength(513)
    state.setReservations({ pools: ['10.1.0.0/16'], addresses: { '10.1.0.0/16': addresses } })
    expect(lines(journalFile(file))).toEqual(['["+p","10.1.0.0/16"]'])
    state.setNetwork('a'.repeat(64), { hostBindingIPv4: '127.0.0.1' })
    expect(readFileSync(journalFile(file), 'utf8')).toBe('')
    expect(new StateFile(file).reservations().pools).toEqual(['10.1.0.0/16'])
  })
})
