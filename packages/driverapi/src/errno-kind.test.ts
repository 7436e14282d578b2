import { describe, expect, it } from 'vitest'
import { errnoKind, isResourceLimit } from './errno-kind.js'

describe('errnoKind', () => {
  it.each([
    ['EEXIST', 'conflict'],
    ['EBUSY', 'conflict'],
    ['ENOENT', 'not-found'],
    ['ENODEV', 'not-found'],
    ['ESRCH', 'not-found'],
    ['EADDRNOTAVAIL', 'not-found'],
    ['EOPNOTSUPP', 'unsupported'],
    ['EPROTONOSUPPORT', 'unsupported'],
    ['EMFILE', 'unavailable'],
    ['ENFILE', 'unavailable'],
    ['ENOBUFS', 'unavailable'],
    ['ENOMEM', 'unavailable'],
    ['ENOSPC', 'unavailable'],
    ['EPERM', 'kernel'],
    ['EINVAL', 'kernel'],
    ['ERRNO_999', 'kernel'],
    ['toString', 'kernel'],
  ])('%s is %s', (code, kind) => {
    expect(errnoKind(code)).toBe(kind)
  })
})

describe('isResourceLimit', () => {
  it('finds a resource limit in the error or its causes', () => {
    expect(isResourceLimit(Object.assign(new Error('x'), { code: 'EMFILE' }))).toBe(true)
    expect(isResourceLimit(new Error('wrapped', { cause: Object.assign(new Error('y'), { code: 'ENFILE' }) }))).toBe(
      true,
    )
    expect(isResourceLimit(Object.assign(new Error('x'), { code: 'EEXIST' }))).toBe(false)
    expect(isResourceLimit('EMFILE')).toBe(false)
  })
})
