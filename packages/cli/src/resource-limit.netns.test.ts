import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { type CnmClientError, createClient } from '@cnm/client'
import { describeKernel, requireProgram, useHostNetns } from '@cnm/netlink/testing'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { BIN, cnm, type Started, stop } from './test/cnm.js'

/**
 * A resource limit is a typed error (issue 21 item 12): a daemon started with a low open-file limit
 * (`prlimit --nofile`) is grown through the REST API until it runs out; what it answers then is
 * HTTP 503 with a code of its own and kind `unavailable` — never 500 `ERR_INTERNAL` — and it keeps
 * serving (what it holds can still be removed).
 */
describeKernel('a resource limit is a typed error through REST (kernel, the real binary)', () => {
  const host = useHostNetns()
  let tmp: string
  let store: string
  let sandboxDir: string
  let socketPath: string
  let d: Started | undefined
  const g = (...args: string[]): string[] => ['--store', store, '--sandbox-dir', sandboxDir, ...args]

  beforeAll(() => {
    requireProgram('prlimit')
    tmp = mkdtempSync(path.join(tmpdir(), 'cnm-rlimit-'))
    store = path.join(tmp, 'cnm.db')
    sandboxDir = path.join(host.dir, 'sb')
    socketPath = path.join(tmp, 'cnm.sock')
  })
  afterAll(async () => {
    if (d) await stop(d.child, 'SIGKILL')
    for (const s of JSON.parse(cnm(g('sandbox', 'ls', '--json')).stdout || '[]') as { id: string }[]) {
      cnm(g('sandbox', 'rm', s.id))
    }
    for (const n of JSON.parse(cnm(g('network', 'ls', '--json')).stdout || '[]') as { id: string }[]) {
      cnm(g('network', 'rm', n.id))
    }
    rmSync(tmp, { recursive: true, force: true })
    rmSync(sandboxDir, { recursive: true, force: true })
  })

  it('grown past RLIMIT_NOFILE: 503 with its own code and kind unavailable, and the daemon serves on', async () => {
    const child = spawn(
      'prlimit',
      ['--nofile=160:160', '--', process.execPath, BIN, ...g('serve', '--socket', socketPath, '--log-level', 'warn')],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let logs = ''
    child.stderr?.on('data', (b) => {
      logs += b
    })
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (b: Buffer) => {
        if (String(b).includes('listening on')) resolve()
      })
      child.once('exit', (code) => reject(new Error(`cnm serve exited ${code}: ${logs}`)))
    })
    d = { child, output: [], logs: () => logs }
    const client = createClient({ host: `unix://${socketPath}` })
    try {
      await client.createNetwork({ name: 'rl', subnet: '10.219.0.0/16' })
      let failure: CnmClientError | undefined
      let made = 0
      for (let i = 0; i < 400 && !failure; i++) {
        try {
          await client.createSandbox({ containerID: `rl${i}` })
          await client.connect('rl', { sandbox: `rl${i}`, publish: ['80'] })
          made++
        } catch (err) {
          failure = err as CnmClientError
        }
      }
      expect(failure, `no failure after ${made} sandboxes`).toBeDefined()
      expect(
        { status: failure?.status, kind: failure?.kind, internal: failure?.code === 'ERR_INTERNAL' },
        `${failure?.code}: ${failure?.message}`,
      ).toEqual({ status: 503, kind: 'unavailable', internal: false })
      console.log(`resource limit after ${made} sandboxes: ${failure?.code}: ${failure?.message}`)
      // It serves on: what it holds can be listed and removed.
      expect((await client.listNetworks()).map((n) => n.name)).toEqual(['rl'])
      for (let i = made; i >= 0; i--) await client.removeSandbox(`rl${i}`).catch(() => undefined)
      await client.removeNetwork('rl')
    } finally {
      client.close()
    }
  }, 300_000)
})
