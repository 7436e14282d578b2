import { describe, expect, it } from 'vitest'
import { normalizeName, questionKey, tryNormalizeName } from './names.js'

describe('names', () => {
  it('stores names in lower case without the trailing dot', () => {
    expect(normalizeName('Web')).toBe('web')
    expect(normalizeName('my_app.Svc.')).toBe('my_app.svc')
    expect(normalizeName('4d23e9a1b2c3')).toBe('4d23e9a1b2c3')
    expect(questionKey('WEB.cnm.Internal.')).toBe('web.cnm.internal')
  })

  it('refuses what is not a name, with a typed error naming it', () => {
    for (const bad of ['', '.', 'a..b', '-web', 'web-', 'we b', 'web/1', 'é', 'a'.repeat(64), `${'a.'.repeat(127)}a`]) {
      expect(tryNormalizeName(bad)).toBeUndefined()
    }
    expect(tryNormalizeName(42)).toBeUndefined()
    expect(() => normalizeName('we b', 'alias')).toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_DNS_NAME',
        kind: 'invalid',
        message: expect.stringContaining('"we b"'),
      }),
    )
  })

  it('takes the longest legal label and name', () => {
    expect(tryNormalizeName('a'.repeat(63))).toBe('a'.repeat(63))
    const name = `${'abc.'.repeat(62)}abcde`
    expect(name.length).toBe(253)
    expect(tryNormalizeName(name)).toBe(name)
  })
})
