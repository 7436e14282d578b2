import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { checkTcpSecurity } from './tcp-security.js'
import { groupId } from './unix-socket.js'

describe('checkTcpSecurity', () => {
  it('lets mutual TLS listen anywhere, and plain HTTP only with --insecure-tcp on loopback', () => {
    expect(() => checkTcpSecurity(undefined, false, false)).not.toThrow()
    expect(() => checkTcpSecurity({ host: '0.0.0.0', port: 2376 }, true, false)).not.toThrow()
    for (const host of ['127.0.0.1', '127.1.2.3', '::1']) {
      expect(() => checkTcpSecurity({ host, port: 2375 }, false, true)).not.toThrow()
    }
  })
  it.each([
    [{ host: '127.0.0.1', port: 2375 }, false, false, 'needs mutual TLS'],
    [{ host: '0.0.0.0', port: 2375 }, false, true, 'binds only loopback'],
    [{ host: '::', port: 2375 }, false, true, 'binds only loopback'],
    [{ host: '192.0.2.1', port: 2375 }, false, true, 'binds only loopback'],
    [{ host: '127.0.0.1', port: 2375 }, true, true, 'exclude each other'],
  ])('refuses %o (tls %s, insecure %s): ERR_INSECURE_TCP', (listen, tls, insecure, text) => {
    expect(() => checkTcpSecurity(listen, tls, insecure)).toThrow(
      expect.objectContaining({ code: 'ERR_INSECURE_TCP', kind: 'invalid', message: expect.stringContaining(text) }),
    )
  })
})

describe('groupId', () => {
  it('reads a group id from a group file; undefined when there is no such group or file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cnm-group-'))
    try {
      const file = path.join(dir, 'group')
      writeFileSync(file, 'root:x:0:\ndocker:x:998:alice\ncnm:x:1234:bob,carol\nbroken\n')
      expect(groupId('cnm', file)).toBe(1234)
      expect(groupId('root', file)).toBe(0)
      expect(groupId('nope', file)).toBeUndefined()
      expect(groupId('cnm', path.join(dir, 'missing'))).toBeUndefined()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
