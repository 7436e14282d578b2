import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createClient } from '@cnm/client'
import type { EndpointInspect } from '@cnm/controller'
import { Agent, describeKernel, run, useHostNetns } from '@cnm/netlink/testing'
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import { cnm, type Started, start, stop } from './test/cnm.js'

/**
 * Rules lost on a reload are noticed (issue 19 item 3): with `cnm serve` running, `nft flush
 * ruleset` and `nft delete table inet cnm` (what a firewalld reload or another tool does) take the
 * published port and masquerade away; the daemon hears of it from nf_tables' change notifications
 * and puts its rules back within a second, with no reconcile. The time from the fault to the
 * published port answering again is printed.
 */
describeKernel('cnm serve puts its firewall rules back when they are flushed (kernel, the real binary)', () => {
  const host = useHostNetns()
  let tmp: string
  let store: string
  let sandboxDir: string
  let socketPath: string
  const daemons: Started[] = []
  const agents: Agent[] = []
  const g = (...args: string[]): string[] => ['--store', store, '--sandbox-dir', sandboxDir, ...args]

  beforeAll(() => {
    tmp = mkdtempSync(path.join(tmpdir(), 'cnm-rules-watch-'))
    store = path.join(tmp, 'cnm.db')
    sandboxDir = path.join(host.dir, 'sb')
    socketPath = path.join(tmp, 'cnm.sock')
  })
  afterEach(async () => {
    for (const a of agents.splice(0)) await a.stop()
    for (const d of daemons.splice(0)) await stop(d.child, 'SIGTERM')
    const list = <T>(what: string): T[] => JSON.parse(cnm(g(what, 'ls', '--json')).stdout || '[]') as T[]
    for (const s of list<{ id: string }>('sandbox')) cnm(g('sandbox', 'rm', s.id))
    for (const e of list<EndpointInspect>('endpoint')) cnm(g('endpoint', 'rm', e.network.id, e.id))
    for (const n of list<{ id: string }>('network')) cnm(g('network', 'rm', n.id))
  })
  afterAll(() => {
    rmSync(tmp, { recursive: true, force: true })
    rmSync(sandboxDir, { recursive: true, force: true })
  })

  it('nft flush ruleset and nft delete table inet cnm: the published port answers again within 1 s', async () => {
    const d = await start(g('serve', '--socket', socketPath, '--log-level', 'info'), 1)
    daemons.push(d)
    const client = createClient({ host: `unix://${socketPath}` })
    await client.createNetwork({ name: 'rw', subnet: '10.213.0.0/24' })
    const web = await client.createSandbox({ containerID: 'rw-web' })
    const other = await client.createSandbox({ containerID: 'rw-other' })
    await client.connect('rw', { sandbox: 'rw-web', publish: ['18213:80'] })
    await client.connect('rw', { sandbox: 'rw-other' })
    const server = await Agent.start('web', web.key)
    const hostAgent = await Agent.start('host')
    const otherAgent = await Agent.start('other', other.key)
    agents.push(server, hostAgent, otherAgent)
    await server.listen('tcp', 80)
    /** The published port from the host (127.0.0.1) and from the other container (its gateway). */
    const works = async (timeoutMs: number): Promise<boolean> => {
      const [lo, gw] = await Promise.all([
        hostAgent.connect('tcp', '127.0.0.1', 18213, timeoutMs),
        otherAgent.connect('tcp', '10.213.0.1', 18213, timeoutMs),
      ])
      return lo.ok && lo.name === 'web' && gw.ok && gw.name === 'web'
    }
    expect(await works(1500), 'the positive control').toBe(true)
    const times: Record<string, number> = {}
    for (const args of [
      ['flush', 'ruleset'],
      ['delete', 'table', 'inet', 'cnm'],
    ]) {
      const name = `nft ${args.join(' ')}`
      run('nft', args) // counted from its commit (nft has exited)
      const started = performance.now()
      let ok = false
      while (!ok && performance.now() - started < 3000) ok = await works(150)
      times[name] = Math.round(performance.now() - started)
      expect(ok, `${name}: the published port answers again`).toBe(true)
    }
    // The daemon logged each repair, naming what it put back (its log: pino's JSON lines).
    const repairs = (): string[] =>
      d
        .logs()
        .split('\n')
        .filter((l) => l.includes('firewall rules put back: '))
    for (let i = 0; i < 100 && repairs().length < 2; i++) await new Promise((r) => setTimeout(r, 10))
    expect(repairs().length, d.logs().slice(-3000)).toBeGreaterThanOrEqual(2)
    expect(repairs().join('\n')).toContain('18213') // the published port was among what went missing
    expect(d.logs()).not.toContain('repair of the firewall rules')
    console.log(
      `rules put back by the daemon (ms from the fault to the published port answering): ${Object.entries(times)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    )
    for (const [name, ms] of Object.entries(times)) expect(ms, `${name}: within 1 s`).toBeLessThan(1000)
    // Nothing was left to a reconcile.
    const report = await client.reconcile()
    expect(report.rebuiltNetworks).toEqual([])
    expect(report.errors).toEqual([])
  }, 60_000)
})
