import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
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
      written: 2,
    })
    files.write(ID, { resolvConf: 'nameserver 10.1.0.9\n', hosts: '' })
    expect(readFileSync(where.resolvConf, 'utf8')).toBe('nameserver 10.1.0.9\n')
    expect(files.list()).toEqual([ID])
    files.remove(ID)
    expect(files.list()).toEqual([])
  })

  it('are written only when their content changes: an unchanged file keeps its inode', () => {
    const files = createResolverFiles(path.join(tmp, 'resolv'))
    const same = { resolvConf: 'nameserver 10.1.0.1\n', hosts: '127.0.0.1\tlocalhost\n' }
    const where = files.write(ID, same)
    const ino = (f: string): number => statSync(f).ino
    const before = { resolvConf: ino(where.resolvConf), hosts: ino(where.hosts) }
    expect(files.write(ID, same).written).toBe(0)
    expect({ resolvConf: ino(where.resolvConf), hosts: ino(where.hosts) }).toEqual(before)
    // Only the file that changed is replaced (a longer and a shorter content are both a change).
    expect(files.write(ID, { ...same, hosts: `${same.hosts}10.1.0.2\tweb\n` }).written).toBe(1)
    expect(ino(where.resolvConf)).toBe(before.resolvConf)
    expect(ino(where.hosts)).not.toBe(before.hosts)
    expect(files.write(ID, { ...same, resolvConf: 'nameserver 10.1.0.\n' }).written).toBe(2)
    expect(readFileSync(where.resolvConf, 'utf8')).toBe('nameserver 10.1.0.\n')
    expect(readFileSync(where.hosts, 'utf8')).toBe(same.hosts)
    expect(files.write(ID, same).written).toBe(1)
    // A file someone else changed (or made writable by others) is written again.
    writeFileSync(where.hosts, 'tampered\n')
    expect(files.write(ID, same).written).toBe(1)
    expect(readFileSync(where.hosts, 'utf8')).toBe(same.hosts)
    chmodSync(where.hosts, 0o666)
    expect(files.write(ID, same).written).toBe(1)
    expect(statSync(where.hosts).mode & 0o022).toBe(0)
  })

  it('never write through a link, nor into a directory others may write, nor for a name that is not a sandbox id', () => {
    const files = createResolverFiles(path.join(tmp, 'resolv'))
    const victim = path.join(tmp, 'victim')
    writeFileSync(victim, 'precious\n')
    mkdirSync(path.join(tmp, 'resolv', ID))
    symlinkSync(victim, path.join(tmp, 'resolv', ID, 'resolv.conf'))
    files.write(ID, { resolvConf: 'nameserver 10.1.0.1\n', hosts: '' })
    expect(readFileSync(victim, 'utf8')).toBe('precious\n') // the link was replaced, not followed
    // A link to a file that holds the very content is not taken for the file: it is replaced.
    writeFileSync(victim, 'nameserver 10.1.0.1\n')
    rmSync(path.join(tmp, 'resolv', ID, 'resolv.conf'))
    symlinkSync(victim, path.join(tmp, 'resolv', ID, 'resolv.conf'))
    expect(files.write(ID, { resolvConf: 'nameserver 10.1.0.1\n', hosts: '' }).written).toBe(1)
    expect(lstatSync(path.join(tmp, 'resolv', ID, 'resolv.conf')).isFile()).toBe(true)
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
