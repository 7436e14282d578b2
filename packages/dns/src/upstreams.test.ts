import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { parseUpstream, UpstreamSource } from './upstreams.js'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'cnm-dns-'))
  dirs.push(d)
  return d
}

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe('parseUpstream', () => {
  it('reads address, address:port and [v6]:port', () => {
    expect(parseUpstream('10.0.0.53')).toEqual({ address: '10.0.0.53', family: 4, port: 53 })
    expect(parseUpstream('10.0.0.53:5353')).toEqual({ address: '10.0.0.53', family: 4, port: 5353 })
    expect(parseUpstream('2001:DB8::53')).toEqual({ address: '2001:db8::53', family: 6, port: 53 })
    expect(parseUpstream('[2001:db8::53]:5353')).toEqual({ address: '2001:db8::53', family: 6, port: 5353 })
    for (const bad of ['resolver', '10.0.0.53:0', '10.0.0.53:70000', '[10.0.0.53', '']) {
      expect(() => parseUpstream(bad)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_DNS_CONFIG' }))
    }
  })
})

describe('UpstreamSource', () => {
  it("follows a resolv.conf when it is rewritten or replaced, and skips the server's own addresses", async () => {
    const dir = tempDir()
    const file = path.join(dir, 'resolv.conf')
    writeFileSync(file, 'nameserver 192.0.2.53\nnameserver 10.1.0.1\nsearch corp.example\n')
    const src = await UpstreamSource.open({ resolvConf: file, self: [{ address: '10.1.0.1', port: 53 }] })
    try {
      expect(src.current().map((u) => u.address)).toEqual(['192.0.2.53'])
      expect(src.hostConf?.search).toEqual(['corp.example'])
      writeFileSync(file, 'nameserver 192.0.2.54\n')
      await until(() => src.current()[0]?.address === '192.0.2.54')
      // Replaced by a rename, as resolvconf and NetworkManager do.
      writeFileSync(path.join(dir, 'resolv.conf.new'), 'nameserver 2001:db8::53\n')
      renameSync(path.join(dir, 'resolv.conf.new'), file)
      await until(() => src.current()[0]?.address === '2001:db8::53')
      rmSync(file)
      await until(() => src.current().length === 0)
    } finally {
      src.close()
    }
  })

  it('reads a missing file as no upstream, and picks it up when it appears', async () => {
    const dir = tempDir()
    const file = path.join(dir, 'resolv.conf')
    const src = await UpstreamSource.open({ resolvConf: file, self: [] })
    try {
      expect(src.current()).toEqual([])
      writeFileSync(file, 'nameserver 192.0.2.53\n')
      await until(() => src.current().length === 1)
    } finally {
      src.close()
    }
  })

  it('keeps a fixed list as given', async () => {
    const src = await UpstreamSource.open({ upstreams: ['192.0.2.53', '127.0.0.1:5300'], self: [] })
    expect(src.current().map((u) => `${u.address}:${u.port}`)).toEqual(['192.0.2.53:53', '127.0.0.1:5300'])
    expect(src.file).toBeUndefined()
    src.close()
  })
})
