import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { type CnmClient, createClient } from '@cnm/client'
import { createController, type EndpointInspect, type ReconcileReport } from '@cnm/controller'
import { describeKernel, request, startServer, type TestServer, useHostNetns } from '@cnm/netlink/testing'
import { heldPortCount } from '@cnm/portmapper'
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import { cnm, okJSON, type Started, start, stop } from './test/cnm.js'
import { IN_USE, pythonBinds } from './test/daemon.js'

/** Every answer of `times` requests (TCP connections or UDP datagrams) to host:port. */
function answers(
  proto: 'tcp' | 'udp',
  host: string,
  port: number,
  times: number,
  netns?: string,
): (string | undefined)[] {
  return Array.from({ length: times }, () => request(proto, host, port, netns ? { netns } : {}))
}

describeKernel('published ports are held with a bound socket (daemon and library)', () => {
  const host = useHostNetns()
  let tmp: string
  let store: string
  let sandboxDir: string
  let socketPath: string
  const daemons: Started[] = []
  const servers: TestServer[] = []
  const g = (...args: string[]): string[] => ['--store', store, '--sandbox-dir', sandboxDir, ...args]
  const serve = async (level = 'warn'): Promise<{ d: Started; client: CnmClient }> => {
    const d = await start(g('serve', '--socket', socketPath, '--log-level', level), 1)
    daemons.push(d)
    return { d, client: createClient({ host: `unix://${socketPath}` }) }
  }

  beforeAll(() => {
    tmp = mkdtempSync(path.join(tmpdir(), 'cnm-held-'))
    store = path.join(tmp, 'cnm.db')
    sandboxDir = path.join(host.dir, 'sb')
    socketPath = path.join(tmp, 'cnm.sock')
  })
  afterEach(async () => {
    for (const s of servers.splice(0)) s.stop()
    for (const d of daemons.splice(0)) await stop(d.child, 'SIGKILL')
    const list = <T>(what: string): T[] => JSON.parse(cnm(g(what, 'ls', '--json')).stdout || '[]') as T[]
    for (const s of list<{ id: string }>('sandbox')) cnm(g('sandbox', 'rm', s.id))
    for (const e of list<EndpointInspect>('endpoint')) cnm(g('endpoint', 'rm', e.network.id, e.id))
    for (const n of list<{ id: string }>('network')) cnm(g('network', 'rm', n.id))
  })
  afterAll(() => {
    rmSync(tmp, { recursive: true, force: true })
    rmSync(sandboxDir, { recursive: true, force: true })
  })

  it('the daemon holds tcp, udp and range ports while DNAT delivers; released on unpublish, held again after a restart; a bound port is refused', async () => {
    let { d, client } = await serve()
    await client.createNetwork({ name: 'held', subnet: '10.212.0.0/24' })
    const web = await client.createSandbox({ containerID: 'web' })
    const other = await client.createSandbox({ containerID: 'other' })
    for (const [port, text] of [
      [80, 'hello'],
      [81, 'r81'],
      [82, 'r82'],
    ] as const) {
      servers.push(await startServer(port, text, web.key))
    }
    const ep = await client.connect('held', {
      sandbox: 'web',
      publish: ['18080:80', '18053:80/udp', '18100-18102:80-82'],
    })
    await client.connect('held', { sandbox: 'other' })
    expect(ep.ports.map((p) => `${p.hostPort}-${p.hostPortEnd}/${p.proto}`)).toEqual([
      '18080-18080/tcp',
      '18053-18053/udp',
      '18100-18102/tcp',
    ])
    const targets: ['tcp' | 'udp', string, number][] = [
      ['tcp', '0.0.0.0', 18080],
      ['tcp', '127.0.0.1', 18080],
      ['udp', '0.0.0.0', 18053],
      ['tcp', '0.0.0.0', 18100],
      ['tcp', '0.0.0.0', 18101],
      ['tcp', '0.0.0.0', 18102],
    ]
    const heldAll = targets.map(() => IN_USE)
    const freeAll = targets.map(() => 'bound')
    expect(pythonBinds(targets)).toEqual(heldAll)
    expect((await client.info()).heldPorts).toBe(5)
    // DNAT still delivers every packet: from the host (127.0.0.1) and from another container
    // through the gateway (hairpin), TCP and UDP, and each port of the range.
    expect(answers('tcp', '127.0.0.1', 18080, 3)).toEqual(Array(3).fill(expect.stringMatching(/^hello /u)))
    expect(answers('udp', '127.0.0.1', 18053, 3)).toEqual(Array(3).fill(expect.stringMatching(/^hello /u)))
    expect(answers('tcp', '10.212.0.1', 18080, 2, other.key)).toEqual(Array(2).fill(expect.stringMatching(/^hello /u)))
    expect(answers('udp', '10.212.0.1', 18053, 2, other.key)).toEqual(Array(2).fill(expect.stringMatching(/^hello /u)))
    expect(request('tcp', '127.0.0.1', 18101)).toMatch(/^r81 /u)
    expect(request('tcp', '127.0.0.1', 18102)).toMatch(/^r82 /u)

    // A port the OS already has bound is refused, as before.
    const squatter: ChildProcess = spawn('python3', [
      '-c',
      'import socket, time; s = socket.socket(); s.bind(("0.0.0.0", 18200)); s.listen(); print("up", flush=True); time.sleep(60)',
    ])
    await new Promise((resolve) => squatter.stdout?.once('data', resolve))
    try {
      await expect(client.createEndpoint('held', { name: 'squat', publish: '18200:80' })).rejects.toMatchObject({
        code: 'ERR_PORT_ALREADY_ALLOCATED',
        kind: 'conflict',
        status: 409,
      })
    } finally {
      squatter.kill('SIGKILL')
    }

    // Another process on the store (in process, --store) takes the daemon's mappings as they are.
    const seen = okJSON<EndpointInspect[]>(g('endpoint', 'ls', '--json')).find((e) => e.name === 'web')
    expect(seen?.ports).toHaveLength(3)
    expect(okJSON<ReconcileReport>(g('reconcile', '--json')).errors).toEqual([])
    expect(pythonBinds(targets)).toEqual(heldAll) // still the daemon's

    // SIGTERM: the ports are released (the kernel keeps the rules, so traffic still flows) ...
    client.close()
    expect(await stop(d.child, 'SIGTERM')).toBe(0)
    expect(pythonBinds(targets)).toEqual(freeAll)
    expect(request('tcp', '127.0.0.1', 18080)).toMatch(/^hello /u)
    // ... and held again once the daemon is back.
    ;({ d, client } = await serve())
    expect(pythonBinds(targets)).toEqual(heldAll)
    expect(answers('tcp', '127.0.0.1', 18080, 2)).toEqual(Array(2).fill(expect.stringMatching(/^hello /u)))
    expect(answers('udp', '127.0.0.1', 18053, 2)).toEqual(Array(2).fill(expect.stringMatching(/^hello /u)))

    // Unpublished: released.
    await client.disconnect('held', { sandbox: 'web' })
    expect(pythonBinds(targets)).toEqual(freeAll)
    expect((await client.info()).heldPorts).toBe(0)
    await client.removeSandbox('web')
    await client.removeSandbox('other')
    await client.removeNetwork('held')
    client.close()
    expect(await stop(d.child, 'SIGTERM')).toBe(0)
  })

  it('a published port another program bound while cnm was down is reported (its holder named), and held again once it let go', async () => {
    let { d, client } = await serve()
    // Dual-stack: the port is published on 0.0.0.0 and on [::] (IPv6 only), which cnm still holds.
    await client.createNetwork({ name: 'taken', subnet: ['10.213.0.0/24', 'fd00:213::/64'], ipv6: true })
    const web = await client.createSandbox({ containerID: 'web' })
    servers.push(await startServer(80, 'taken', web.key))
    await client.connect('taken', { sandbox: 'web', publish: ['18400:80', '18401:80/udp'] })
    client.close()
    expect(await stop(d.child, 'SIGTERM')).toBe(0) // the ports are released, the rules stay
    // While cnm is down a host program binds the TCP port.
    const squatter = spawn('python3', [
      '-c',
      'import socket, time; s = socket.socket(); s.bind(("0.0.0.0", 18400)); s.listen(); print("up", flush=True); time.sleep(60)',
    ])
    await new Promise((resolve) => squatter.stdout?.once('data', resolve))
    try {
      ;({ d, client } = await serve('info'))
      const told = new RegExp(
        `published port tcp/0\\.0\\.0\\.0:18400 of endpoint \\S+ \\(network taken\\) is bound by pid ${squatter.pid} \\(python3\\)`,
        'u',
      )
      await expect.poll(() => d.logs(), { timeout: 5000 }).toMatch(told) // the daemon's start says so
      const report = await client.reconcile()
      expect(report.errors).toEqual([expect.stringMatching(told)]) // so does a reconcile (the UDP port is held)
      expect(pythonBinds([['udp', '0.0.0.0', 18401]])).toEqual([IN_USE])
      // The mapping stays: the container still gets the port's traffic.
      expect(request('tcp', '127.0.0.1', 18400)).toMatch(/^taken /u)
    } finally {
      squatter.kill('SIGKILL')
      await new Promise((resolve) =>
        squatter.exitCode !== null || squatter.signalCode !== null ? resolve(0) : squatter.once('exit', resolve),
      )
    }
    // Once the program let go, the daemon holds the port again by itself (it tries every 10 s), and
    // says so; a reconcile then reports nothing.
    await expect
      .poll(() => d.logs(), { timeout: 15_000, interval: 250 })
      .toMatch(/published port tcp\/0\.0\.0\.0:18400 of endpoint [0-9a-f]{64} is held again/u)
    expect((await client.reconcile()).errors).toEqual([])
    expect(pythonBinds([['tcp', '0.0.0.0', 18400]])).toEqual([IN_USE])
    await client.disconnect('taken', { sandbox: 'web' })
    await client.removeSandbox('web')
    await client.removeNetwork('taken')
    client.close()
    expect(await stop(d.child, 'SIGTERM')).toBe(0)
  })

  it("a library user's controller holds its published ports too", async () => {
    const controller = await createController({ storePath: path.join(tmp, 'lib.db'), sandboxDir })
    const net = await controller.newNetwork(await controller.newNetworkDriver('bridge'), 'lib', {
      addressIPv4: '10.214.0.1/24',
    })
    const sb = await controller.newSandbox('libweb')
    try {
      servers.push(await startServer(80, 'lib', sb.key))
      const { endpoint } = await net.createEndpoint('libweb', sb.key, {
        portBindings: [
          { proto: 'tcp', containerPort: 80, hostPort: 18300 },
          { proto: 'udp', containerPort: 80, hostPort: 18301 },
          { proto: 'tcp', containerPort: 80, hostPort: 18310, hostPortEnd: 18311 }, // one port of the range
        ],
      })
      await endpoint.join(sb)
      const targets: ['tcp' | 'udp', string, number][] = [
        ['tcp', '0.0.0.0', 18300],
        ['udp', '0.0.0.0', 18301],
        ['tcp', '0.0.0.0', 18310],
      ]
      expect(heldPortCount()).toBe(3)
      expect(pythonBinds(targets)).toEqual([IN_USE, IN_USE, IN_USE])
      // A one-shot command on the same store cannot hold them either, but this process, which has
      // the store open, does: nothing to report.
      const lib = ['--store', path.join(tmp, 'lib.db'), '--sandbox-dir', sandboxDir]
      expect(okJSON<ReconcileReport>([...lib, 'reconcile', '--json']).errors).toEqual([])
      expect(answers('tcp', '127.0.0.1', 18300, 2)).toEqual(Array(2).fill(expect.stringMatching(/^lib /u)))
      expect(answers('udp', '127.0.0.1', 18301, 2)).toEqual(Array(2).fill(expect.stringMatching(/^lib /u)))
      expect(request('tcp', '127.0.0.1', 18310)).toMatch(/^lib /u)
      await endpoint.delete()
      expect(heldPortCount()).toBe(0)
      expect(pythonBinds(targets)).toEqual(['bound', 'bound', 'bound'])
    } finally {
      for (const s of servers.splice(0)) s.stop()
      await sb.destroy()
      await net.delete()
      await controller.close()
    }
  })
})
