import { describe, expect, it } from 'vitest'
import { generateID, isValidID } from './id.js'

describe('ids', () => {
  it('are 64 hex characters and distinct', () => {
    const ids = new Set(Array.from({ length: 1000 }, generateID))
    expect(ids.size).toBe(1000)
    for (const id of ids) expect(isValidID(id)).toBe(true)
  })

  it('validates', () => {
    expect(isValidID('A'.repeat(64))).toBe(false)
    expect(isValidID('a'.repeat(63))).toBe(false)
    expect(isValidID(undefined)).toBe(false)
  })
})
