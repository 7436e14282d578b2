import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createResolverFiles, ERR_RESOLVER_DIR } from './resolver-files.js'

let tmp: string
beforeEach(() => {
  tmp = mkdtempSync(path.join(tmpdir(), 'cnm-resolver-'))
})
afterEach(() => rmSync(tmp, { recursive: true, force: true }))

const ID = '0123456789abcdef'

describe("each sandbox's resolver files", () => {
  it('are written in a directory cnm owns, replaced whole, listed and removed', () => {
    const files = createResolverFiles(path.join(tmp, 'resolv'))
    const where = files.write(ID, { resolvConf: 'nameserver 10.1.0.1\n', hosts: '127.0.0.1\tlocalhost\n' })
    expect(where).toEqual({
      resolvConf: path.join(tmp, 'resolv', ID, 'resolv.conf'),
      hosts: path.join(tmp, 'resolv', ID, 'hosts'),
    })
    files.write(ID, { resolvConf: 'nameserver 10.1.0.9\n', hosts: '' })
    expect(readFileSync(where.resolvConf, 'utf8')).toBe('nameserver 10.1.0.9\n')
    expect(files.list()).toEqual([ID])
    files.remove(ID)
    expect(files.list()).toEqual([])
  })

  it('never write through a link, nor into a directory others may write, nor for a name that is not a sandbox id', () => {
    const files = createResolverFiles(path.join(tmp, 'resolv'))
    const victim = path.join(tmp, 'victim')
    writeFileSync(victim, 'precious\n')
    mkdirSync(path.join(tmp, 'resolv', ID))
    symlinkSync(victim, path.join(tmp, 'resolv', ID, 'resolv.conf'))
    files.write(ID, { resolvConf: 'nameserver 10.1.0.1\n', hosts: '' })
    expect(readFileSync(victim, 'utf8')).toBe('precious\n') // the link was replaced, not followed
    const other = path.join(tmp, 'elsewhere')
    mkdirSync(other)
    symlinkSync(other, path.join(tmp, 'resolv', 'fedcba9876543210'))
    expect(() => files.write('fedcba9876543210', { resolvConf: '', hosts: '' })).toThrow(
      expect.objectContaining({ code: ERR_RESOLVER_DIR }),
    )
    expect(() => files.write('../escape', { resolvConf: '', hosts: '' })).toThrow(
      expect.objectContaining({ code: ERR_RESOLVER_DIR }),
    )
    const open = path.join(tmp, 'open')
    mkdirSync(open)
    chmodSync(open, 0o777)
    expect(() => createResolverFiles(open)).toThrow(expect.objectContaining({ code: ERR_RESOLVER_DIR }))
    expect(() => createResolverFiles('relative/dir')).toThrow(expect.objectContaining({ code: ERR_RESOLVER_DIR }))
  })
})
