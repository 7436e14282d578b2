import { mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isSocketPath } from './socket-path.js'

describe('isSocketPath', () => {
  let dir: string
  let server: Server
  let socket: string

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'cnm-socket-path-'))
    socket = path.join(dir, 's.sock')
    server = createServer()
    await new Promise<void>((resolve) => server.listen(socket, resolve))
    writeFileSync(path.join(dir, 'file'), '')
    symlinkSync(socket, path.join(dir, 'link'))
  })

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve))
    rmSync(dir, { recursive: true, force: true })
  })

  it('tells a socket from a file, a directory and a link to a socket (never followed)', () => {
    expect(isSocketPath(socket)).toBe(true)
    expect(isSocketPath(path.join(dir, 'file'))).toBe(false)
    expect(isSocketPath(dir)).toBe(false)
    expect(isSocketPath(path.join(dir, 'link'))).toBe(false)
  })

  it('throws ENOENT when nothing is there', () => {
    expect(() => isSocketPath(path.join(dir, 'missing'))).toThrow(expect.objectContaining({ code: 'ENOENT' }))
  })

  it('leaves realpath resolving symlinks after the stat of a socket', () => {
    expect(isSocketPath(socket)).toBe(true)
    expect(realpathSync(path.join(dir, 'link'))).toBe(realpathSync(socket))
  })
})
