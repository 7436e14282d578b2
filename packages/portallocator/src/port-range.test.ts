import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { ERR_INVALID_PORT } from './errors.js'
import {
  DEFAULT_PORT_RANGE_END,
  DEFAULT_PORT_RANGE_START,
  parseLocalPortRange,
  resolvePortRange,
  systemPortRange,
} from './port-range.js'

const dir = mkdtempSync(join(tmpdir(), 'portallocator-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function file(text: string): string {
  const path = join(dir, `range-${Math.random().toString(36).slice(2)}`)
  writeFileSync(path, text)
  return path
}

describe('port range', () => {
  it('has the seed constants', () => {
    expect(DEFAULT_PORT_RANGE_START).toBe(49153)
    expect(DEFAULT_PORT_RANGE_END).toBe(65535)
  })

  it('parses the kernel file', () => {
    expect(parseLocalPortRange('32768\t60999\n')).toEqual({ begin: 32768, end: 60999 })
    expect(parseLocalPortRange('1024 1024')).toEqual({ begin: 1024, end: 1024 })
  })

  it.each(['', '32768', '32768 60999 7', 'a b', '60999 32768', '0 100', '100 70000', '1.5 100'])(
    'refuses the malformed content %j',
    (text) => {
      expect(parseLocalPortRange(text)).toBeUndefined()
    },
  )

  it('reads the range from a file, falling back silently to 49153-65535', () => {
    const write = vi.spyOn(process.stdout, 'write')
    const log = vi.spyOn(console, 'log')
    const info = vi.spyOn(console, 'info')
    const warn = vi.spyOn(console, 'warn')
    try {
      expect(systemPortRange(file('40000\t40100\n'))).toEqual({ begin: 40000, end: 40100 })
      const fallback = { begin: DEFAULT_PORT_RANGE_START, end: DEFAULT_PORT_RANGE_END }
      expect(systemPortRange(file('garbage'))).toEqual(fallback)
      expect(systemPortRange(join(dir, 'missing'))).toEqual(fallback)
      expect(systemPortRange(dir)).toEqual(fallback) // a directory: EISDIR
      for (const spy of [write, log, info, warn]) expect(spy).not.toHaveBeenCalled()
    } finally {
      vi.restoreAllMocks()
    }
  })

  it('matches the running kernel when /proc is there', () => {
    const range = systemPortRange()
    expect(range.begin).toBeLessThanOrEqual(range.end)
    expect(range.begin).toBeGreaterThanOrEqual(1)
  })

  it('takes each missing bound from the system range, and validates the result', () => {
    const system = systemPortRange()
    expect(resolvePortRange({})).toEqual(system)
    expect(resolvePortRange({ begin: 1000, end: 2000 })).toEqual({ begin: 1000, end: 2000 })
    expect(resolvePortRange({ begin: system.begin })).toEqual(system)
    expect(resolvePortRange({ end: system.end })).toEqual(system)
    expect(() => resolvePortRange({ begin: 3000, end: 2000 })).toThrow(
      expect.objectContaining({ code: ERR_INVALID_PORT }),
    )
    expect(() => resolvePortRange({ begin: 0, end: 2000 })).toThrow(/invalid port range 0-2000/)
  })
})
