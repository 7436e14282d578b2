import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describeKernel, ipJson, useHostNetns } from '@cnm/netlink/testing'
import fc from 'fast-check'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createController } from '../src/controller.js'

const fixture = fileURLToPath(new URL('../test-fixtures/create-endpoints.mjs', import.meta.url))

function runFixture(args: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fixture, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => {
      out += d
    })
    child.stderr.on('data', (d) => {
      err += d
    })
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out) as string[]) : reject(new Error(`exit ${code}: ${err}`)),
    )
  })
}

const cnmVeths = (): string[] =>
  ipJson<{ ifname: string; group?: string }[]>(['link', 'show'])
    .filter((l) => l.group === String(0x636e6d) && l.ifname.startsWith('veth'))
    .map((l) => l.ifname)

describeKernel('controller concurrency and random operations (kernel)', () => {
  const host = useHostNetns()
  let tmp: string
  let sandboxDir: string

  beforeAll(() => {
    tmp = mkdtempSync(path.join(tmpdir(), 'cnm-conc-'))
    sandboxDir = path.join(host.dir, 'sandboxes')
  })
  afterAll(() => {
    rmSync(tmp, { recursive: true, force: true })
    rmSync(sandboxDir, { recursive: true, force: true })
  })

  it('100 concurrent createEndpoint calls get unique addresses and ports, and all clean up', async () => {
    const c = await createController({ storePath: false, sandboxDir })
    const n = await c.newNetwork(await c.newNetworkDriver('bridge'), 'many', { addressIPv4: '10.96.0.1/24' })
    const made = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        n.createEndpoint(`e${i}`, undefined, { portBindings: [{ proto: 'tcp', containerPort: 80 }] }),
      ),
    )
    const addresses = made.map((m) => m.sandboxInfo.interfaces[0]?.address)
    expect(new Set(addresses).size).toBe(100)
    const ports = c.ports().map((p) => p.hostPort)
    expect(new Set(ports).size).toBe(100)
    expect(cnmVeths()).toHaveLength(100)
    await Promise.all(made.map((m) => m.endpoint.delete()))
    expect(cnmVeths()).toEqual([])
    await n.delete()
    await c.close()
  })

  it('two processes creating endpoints on one store at once never double-allocate', async () => {
    const storePath = path.join(tmp, 'two.db')
    const c = await createController({ storePath, sandboxDir })
    await c.newNetwork(await c.newNetworkDriver('bridge'), 'shared', { addressIPv4: '10.97.0.1/24' })
    await c.close()
    const [a, b] = await Promise.all([
      runFixture([storePath, sandboxDir, '25', 'a']),
      runFixture([storePath, sandboxDir, '25', 'b']),
    ])
    const all = [...a, ...b]
    expect(new Set(all).size).toBe(50)
    const again = await createController({ storePath, sandboxDir })
    expect(again.lastReconcile.errors).toEqual([])
    const ports = again.ports().map((p) => p.hostPort)
    expect(new Set(ports).size).toBe(50)
    expect(cnmVeths()).toHaveLength(50)
    const net = again.networkByName('shared')
    for (const e of net?.endpoints() ?? []) await e.delete()
    await net?.delete()
    await again.close()
    expect(cnmVeths()).toEqual([])
  })

  it('random operation sequences agree with a model, and with the kernel at the end', async () => {
    type Cmd = { op: 'net' | 'delnet' | 'ep' | 'delep'; i: number }
    const cmd = fc.record({ op: fc.constantFrom<Cmd['op']>('net', 'delnet', 'ep', 'ep', 'delep'), i: fc.nat(3) })
    await fc.assert(
      fc.asyncProperty(fc.array(cmd, { maxLength: 12 }), async (cmds) => {
        const c = await createController({ storePath: false, sandboxDir })
        const d = await c.newNetworkDriver('bridge')
        const model = new Map<string, Set<string>>() // network name → endpoint names
        let counter = 0
        try {
          for (const { op, i } of cmds) {
            const name = `n${i}`
            const net = c.networkByName(name)
            if (op === 'net') {
              if (model.has(name))
                await expect(c.newNetwork(d, name, { addressIPv4: `10.${110 + i}.0.1/24` })).rejects.toThrow()
              else {
                await c.newNetwork(d, name, { addressIPv4: `10.${110 + i}.0.1/24` })
                model.set(name, new Set())
              }
            } else if (op === 'delnet' && net) {
              if ((model.get(name)?.size ?? 0) > 0)
                await expect(net.delete()).rejects.toMatchObject({ code: 'ERR_ACTIVE_ENDPOINTS' })
              else {
                await net.delete()
                model.delete(name)
              }
            } else if (op === 'ep' && net) {
              const ep = `e${counter++}`
              await net.createEndpoint(ep)
              model.get(name)?.add(ep)
            } else if (op === 'delep' && net) {
              const first = net.endpoints()[0]
              if (first) {
                await first.delete()
                model.get(name)?.delete(first.name)
              }
            }
            const actual = new Map(c.networks().map((n) => [n.name, new Set(n.endpoints().map((e) => e.name))]))
            expect(actual).toEqual(model)
          }
          const bridges = ipJson<{ ifname: string; group?: string; linkinfo?: { info_kind?: string } }[]>([
            '-d',
            'link',
            'show',
          ])
            .filter((l) => l.group === String(0x636e6d) && l.linkinfo?.info_kind === 'bridge')
            .map((l) => l.ifname)
          expect(bridges.sort()).toEqual(
            c
              .networks()
              .map((n) => n.inspect().device)
              .sort(),
          )
          expect(cnmVeths()).toHaveLength([...model.values()].reduce((s, e) => s + e.size, 0))
        } finally {
          for (const n of c.networks()) {
            for (const e of n.endpoints()) await e.delete()
            await n.delete()
          }
          await c.close()
        }
      }),
      { numRuns: 12 },
    )
  })
})
