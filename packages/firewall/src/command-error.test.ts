import { describe, expect, it } from 'vitest'
import { commandError, errnoFromText } from './command-error.js'
import { ERR_COMMAND_FAILED, ERR_NOT_SUPPORTED } from './errors.js'

describe('errors from firewall programs', () => {
  it.each([
    ['Error: Could not process rule: File exists', 'EEXIST'],
    ['Error: interval overlaps with an existing one', 'EEXIST'],
    ['iptables-restore: line 2 failed: Chain already exists.', 'EEXIST'],
    ['Error: Could not process rule: No such file or directory', 'ENOENT'],
    ['iptables-restore: line 2 failed: Bad rule (does a matching rule exist in that chain?).', 'ENOENT'],
    ['Error: Could not process rule: Device or resource busy', 'EBUSY'],
    ['Error: Could not process rule: Operation not permitted', 'EPERM'],
    ['internal:0:0-0: Error: Could not open file "/proc/self/fd/159": Too many open files', 'EMFILE'],
    ['Error: Could not open file: Too many open files in system', 'ENFILE'],
    ['Error: Could not process rule: Cannot allocate memory', 'ENOMEM'],
    ['Error: syntax error, unexpected string', undefined],
  ])('%s → %s', (text, code) => {
    expect(errnoFromText(text)).toBe(code)
  })

  it('names the object of the failing line', () => {
    const err = commandError(
      'add ports',
      'nft',
      {
        status: 1,
        stdout: '',
        stderr: '/dev/stdin:32:33-42: Error: Could not process rule: File exists\nadd element …\n   ^^^',
      },
      (line) => (line === 32 ? 'publish tcp 0.0.0.0:8080 -> 172.18.0.3:80' : undefined),
    )
    expect(err).toMatchObject({ code: 'EEXIST', name: 'FirewallError' })
    expect(err.message).toBe(
      'add ports: publish tcp 0.0.0.0:8080 -> 172.18.0.3:80: nft failed (EEXIST): /dev/stdin:32:33-42: Error: Could not process rule: File exists',
    )
    const ipt = commandError(
      'flush',
      'iptables-restore',
      { status: 2, stdout: '', stderr: 'weird\nError occurred at line: 3' },
      () => 'x',
    )
    expect(ipt).toMatchObject({
      code: ERR_COMMAND_FAILED,
      message: expect.stringContaining('flush: x: iptables-restore failed'),
    })
  })

  it('a program that is not installed is ERR_NOT_SUPPORTED', () => {
    const error = Object.assign(new Error('spawn nft ENOENT'), { code: 'ENOENT' })
    expect(commandError('add ports', 'nft', { status: -1, stdout: '', stderr: '', error })).toMatchObject({
      code: ERR_NOT_SUPPORTED,
    })
  })
})
