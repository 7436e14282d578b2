import { describe, expect, it } from 'vitest'
import { ERR_INVALID_SANDBOX_KEY } from './errors.js'
import { sandboxKeyFor, validateSandboxKey } from './sandbox-key.js'

describe('sandbox keys', () => {
  it('accepts absolute normalised paths', () => {
    expect(() => validateSandboxKey('/run/cnm/netns/4d23e')).not.toThrow()
  })

  it.each(['netns/4d23e', '', '/run/cnm/../netns/x', '/run/cnm/netns/', 42])('refuses %j with a typed error', (key) => {
    expect(() => validateSandboxKey(key)).toThrow(expect.objectContaining({ code: ERR_INVALID_SANDBOX_KEY }))
  })

  it('derives a key from an id, refusing ids with a slash', () => {
    expect(sandboxKeyFor('4d23e')).toBe('/run/cnm/netns/4d23e')
    expect(() => sandboxKeyFor('../etc')).toThrow(expect.objectContaining({ code: ERR_INVALID_SANDBOX_KEY }))
    expect(() => sandboxKeyFor('a/b')).toThrow(expect.objectContaining({ code: ERR_INVALID_SANDBOX_KEY }))
  })
})
