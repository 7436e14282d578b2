import { describe, expect, it } from 'vitest'
import { errnoKind } from './errno-kind.js'

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
    ['EPERM', 'kernel'],
    ['EINVAL', 'kernel'],
    ['ERRNO_999', 'kernel'],
    ['toString', 'kernel'],
  ])('%s is %s', (code, kind) => {
    expect(errnoKind(code)).toBe(kind)
  })
})
