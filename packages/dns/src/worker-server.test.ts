import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { query } from './dns.test-util.js'
import { NameTable } from './name-table.js'
import { createDnsServerThread } from './worker-server.js'

// The thread runs the built worker script (dist/worker-entry.js): `pnpm build` first, as CI does.
const built = existsSync(fileURLToPath(new URL('../dist/worker-entry.js', import.meta.url)))
const hasDig = spawnSync('dig', ['-v'], { stdio: 'ignore' }).status === 0

describe.skipIf(!built)('createDnsServerThread (loopback)', () => {
  it('answers from a thread of its own; changes are applied in order and synced on request', async () => {
    const names = new NameTable()
    names.set({ id: 'e1', name: 'web', aliases: ['www'], addresses: ['10.1.0.2'] })
    const s = await createDnsServerThread({
      addresses: ['127.0.0.1'],
      port: 0,
      names,
      domain: 'cnm.internal',
      upstreams: [],
    })
    try {
      const at = { address: '127.0.0.1', port: s.port }
      expect((await query(at, 'www.cnm.internal', 'A'))?.message.answers?.[0]).toMatchObject({ data: '10.1.0.2' })
      s.names.set({ id: 'e2', name: 'db', addresses: ['10.1.0.3'] })
      s.names.delete('e1')
      await s.synced()
      expect((await query(at, 'db', 'A'))?.message.answers?.[0]).toMatchObject({ data: '10.1.0.3' })
      expect((await query(at, 'web', 'A'))?.message.rcode).toBe('NXDOMAIN')
      expect(await s.sandboxResolvConf()).toEqual({ nameservers: ['127.0.0.1'], search: ['cnm.internal'], options: [] })
      expect((await s.stats()).local).toBe(3)
      if (hasDig) {
        // The caller's event loop blocked (a synchronous child): the thread keeps answering.
        const r = spawnSync('dig', ['+short', '+tries=1', '+time=2', '-p', String(s.port), '@127.0.0.1', 'db'], {
          encoding: 'utf8',
        })
        expect(r.stdout.trim()).toBe('10.1.0.3')
      }
    } finally {
      await s.close()
    }
    await s.close()
    await expect(s.stats()).rejects.toMatchObject({ code: 'ERR_DNS_SERVER_CLOSED', kind: 'unavailable' })
  })

  it('rejects bad options in the caller, and a taken port with the bind error', async () => {
    await expect(createDnsServerThread({ addresses: ['nope'] })).rejects.toMatchObject({
      code: 'ERR_INVALID_DNS_CONFIG',
    })
    const a = await createDnsServerThread({ addresses: ['127.0.0.1'], port: 0, upstreams: [] })
    try {
      await expect(
        createDnsServerThread({ addresses: ['127.0.0.1'], port: a.port, upstreams: [] }),
      ).rejects.toMatchObject({
        code: 'EADDRINUSE',
        kind: 'conflict',
      })
    } finally {
      await a.close()
    }
  })
})
