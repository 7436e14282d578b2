// The controller's logic without root: the in-memory driver (@cnm/driverapi/testing) and the
// in-memory sandbox backend (./testing) stand in for the kernel. The kernel tests in ../test keep
// what only the kernel can show.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import {
  type Driver,
  type DriverFactory,
  InvalidConfigError,
  NetworkExistsError,
  NoEndpointError,
  NoNetworkError,
} from '@cnm/driverapi'
import { createMemoryDriver, createMemoryKernel, type MemoryKernel } from '@cnm/driverapi/testing'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createController } from './controller.js'
import { createMemorySandboxes, type MemorySandboxBackend } from './testing/memory-sandboxes.js'

let dir: string
let kernel: MemoryKernel
let sandboxes: MemorySandboxBackend
const open: { close(): Promise<void> }[] = []

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cnm-controller-'))
  kernel = createMemoryKernel()
  sandboxes = createMemorySandboxes(path.join(dir, 'netns'))
})

afterEach(async () => {
  for (const c of open.splice(0)) await c.close().catch(() => undefined)
  rmSync(dir, { recursive: true, force: true })
})

/** A controller on the test's store, kernel and sandboxes (another call plays another process). */
async function controller(extra: Parameters<typeof createController>[0] = {}) {
  const c = await createController({
    storePath: path.join(dir, 'cnm.db'),
    sandboxBackend: sandboxes,
    drivers: { memory: ({ owner }) => createMemoryDriver({ kernel, owner }) },
    ...extra,
  })
  open.push(c)
  return c
}

const links = (): string[] => [...kernel.links.keys()].sort()

describe('a driver registered through the public API', () => {
  // A driver written here, knowing nothing of the controller: it hands out 192.0.2.x addresses and
  // keeps its "kernel" (which names exist) in a set that outlives the driver, as a kernel would.
  const made = new Set<string>()
  const tiny: DriverFactory = ({ owner }) => {
    const nets = new Map<string, Map<string, number>>()
    const net = (nid: string): Map<string, number> => {
      const n = nets.get(nid)
      if (!n) throw new NoNetworkError(nid)
      return n
    }
    const host = (nid: string, eid: string): number => {
      const h = net(nid).get(eid)
      if (h === undefined) throw new NoEndpointError(eid)
      return h
    }
    const driver: Driver = {
      name: 'tiny',
      capabilities: { scope: 'local', publishesPorts: false, needsParent: false },
      config: async () => undefined,
      async createNetwork(nid, raw) {
        if (nets.has(nid)) throw new NetworkExistsError(nid)
        if (raw && Object.keys(raw).length > 0) throw new InvalidConfigError('tiny takes no options')
        nets.set(nid, new Map())
        made.add(`${owner}/${nid}`)
      },
      async deleteNetwork(nid) {
        net(nid)
        nets.delete(nid)
        made.delete(`${owner}/${nid}`)
      },
      async createEndpoint(nid, eid) {
        const n = net(nid)
        const h = 2 + n.size
        n.set(eid, h)
        made.add(`${owner}/${eid}`)
        return {
          interfaces: [{ srcName: `tiny${h}`, dstName: 'eth0', address: `192.0.2.${h}/24` }],
          gateway: '192.0.2.1',
        }
      },
      async deleteEndpoint(nid, eid) {
        host(nid, eid)
        net(nid).delete(eid)
        made.delete(`${owner}/${eid}`)
      },
      join: async (nid, eid) => {
        host(nid, eid)
        return {}
      },
      leave: async (nid, eid) => void host(nid, eid),
      networkInfo: (nid) =>
        nets.has(nid)
          ? {
              id: nid,
              device: undefined,
              subnetV4: '192.0.2.0/24',
              gatewayV4: '192.0.2.1',
              subnetV6: undefined,
              gatewayV6: undefined,
              internal: false,
              icc: true,
            }
          : undefined,
      endpointInfo: (nid, eid) => ({
        id: eid,
        ipv4: `192.0.2.${host(nid, eid)}`,
        ipv6: undefined,
        macAddress: undefined,
        ports: [],
      }),
      persistence: {
        exportNetwork: (nid) => {
          net(nid)
          return {}
        },
        exportEndpoint: (nid, eid) => ({ host: host(nid, eid) }),
        async restoreNetwork(nid) {
          nets.set(nid, new Map())
          return made.has(`${owner}/${nid}`) ? 'restored' : 'rebuilt'
        },
        async restoreEndpoint(nid, eid, record) {
          if (!made.has(`${owner}/${eid}`)) return 'gone'
          net(nid).set(eid, (record as { host: number }).host)
          return 'restored'
        },
        forgetNetwork: async (nid) => void nets.delete(nid),
        forgetEndpoint: async (nid, eid) => void net(nid).delete(eid),
        async removeStrays(known) {
          const held = new Set([...nets.keys(), ...[...nets.values()].flatMap((n) => [...n.keys()])])
          const links: string[] = []
          for (const name of [...made]) {
            const [o, id = ''] = name.split('/')
            if (o !== owner || held.has(id) || known.networks.has(id) || known.endpoints.has(id)) continue
            made.delete(name)
            links.push(id)
          }
          return { links, firewallNetworks: [], firewallPorts: [], errors: [] }
        },
        endpointAlive: async (nid, eid) => {
          host(nid, eid)
          return made.has(`${owner}/${eid}`)
        },
      },
      close: async () => nets.clear(),
    }
    return driver
  }

  it('runs the whole flow: create, connect, restart, reconcile', async () => {
    const a = await controller({ drivers: { tiny } })
    expect(a.drivers().map((d) => d.name)).toEqual(expect.arrayContaining(['null', 'tiny']))
    const n = await a.newNetwork(await a.newNetworkDriver('tiny'), 'tn')
    const sb = await a.newSandbox('box1')
    const { endpoint, sandboxInfo } = await n.createEndpoint('ep1')
    expect(sandboxInfo.interfaces[0]?.address).toBe('192.0.2.2/24')
    await endpoint.join(sb)
    expect(sandboxes.sandboxes.get(sb.key)?.interfaces.get('eth0')).toMatchObject({ address: '192.0.2.2/24' })
    expect(sandboxes.sandboxes.get(sb.key)?.gateway).toBe('192.0.2.1')
    expect(a.store.allocations().ips).toEqual([{ pool: '192.0.2.0/24', ip: '192.0.2.2', endpointId: endpoint.id }])
    await a.close()

    // A restart: a new controller (and a new driver instance) takes everything back.
    const b = await controller({ drivers: { tiny } })
    expect(b.lastReconcile).toMatchObject({ rebuiltNetworks: [], droppedEndpoints: [], errors: [] })
    const again = b.networkByName('tn')
    expect(again?.inspect()).toMatchObject({ driver: 'tiny', subnet: '192.0.2.0/24' })
    expect(again?.endpoints()[0]?.inspect()).toMatchObject({ ipv4: '192.0.2.2', joined: { interface: 'eth0' } })
    // Reconcile: an endpoint whose kernel part went away is dropped, a stray of ours removed.
    made.delete(`${b.store.id}/${endpoint.id}`)
    made.add(`${b.store.id}/stray`)
    made.add('someone-else/stray')
    const report = await b.reconcile()
    expect(report.droppedEndpoints).toEqual(['ep1'])
    expect(report.removedLinks).toEqual(['stray'])
    expect(made.has('someone-else/stray')).toBe(true)
    await again?.delete()
    expect(b.networks()).toEqual([])
  })

  it('is refused under a name already taken as an alias, and unknown names are typed errors', async () => {
    const c = await controller()
    expect(() => c.registerDriver('none', tiny)).toThrow(/alias of null/u)
    expect(() => c.registerDriver('Bad Name', tiny)).toThrow(/invalid driver name/u)
    await expect(c.newNetworkDriver('nope')).rejects.toMatchObject({ code: 'ERR_UNKNOWN_DRIVER' })
    c.registerDriver('later', { factory: tiny, aliases: ['late'] })
    expect((await c.newNetworkDriver('late')).type).toBe('later')
  })
})

describe('transactions and rollback', () => {
  it('leaves no record when the driver fails, and no kernel work when the store fails', async () => {
    const c = await controller()
    const d = await c.newNetworkDriver('memory')
    kernel.failNext('createNetwork')
    await expect(c.newNetwork(d, 'n1', {})).rejects.toMatchObject({ code: 'EIO' })
    expect(c.networks()).toEqual([])
    expect(c.store.snapshot().networks).toEqual([])

    // The commit fails after the driver did its work: the work is taken back.
    const commit = c.store.commit.bind(c.store)
    let failed = false
    c.store.commit = () => {
      if (!failed) {
        failed = true
        throw Object.assign(new Error('disk full'), { code: 'SQLITE_FULL' })
      }
      commit()
    }
    await expect(c.newNetwork(d, 'n1', {})).rejects.toThrow('disk full')
    expect(links()).toEqual([])
    expect(c.networks()).toEqual([])
    const n = await c.newNetwork(d, 'n1', {})
    expect(links()).toHaveLength(1)

    // The same for an endpoint: address and port released, link gone.
    failed = false
    const ports = { portBindings: [{ proto: 'tcp', containerPort: 80, hostPort: 8080 }] }
    await expect(n.createEndpoint('e1', undefined, ports)).rejects.toThrow('disk full')
    expect(kernel.ports.size).toBe(0)
    expect(links()).toHaveLength(1)
    const { endpoint } = await n.createEndpoint('e1', undefined, ports)
    expect(c.ports()).toMatchObject([{ network: 'n1', endpoint: 'e1', hostPort: 8080, containerIP: '10.0.1.2' }])
    expect(c.store.allocations().ports).toMatchObject([{ proto: 'tcp', port: 8080, endpointId: endpoint.id }])
  })

  it('undoes a join that fails part-way and keeps the endpoint usable', async () => {
    const c = await controller()
    const n = await c.newNetwork(await c.newNetworkDriver('memory'), 'n', {})
    const sb = await c.newSandbox('box')
    const { endpoint } = await n.createEndpoint('e')
    kernel.failNext('join')
    await expect(endpoint.join(sb)).rejects.toMatchObject({ code: 'EIO' })
    expect(endpoint.inspect().joined).toBeUndefined()
    // The interface went in, then the gateway failed: the interface leaves and the driver is told.
    const handle = await sandboxes.open(sb.key)
    const setGateway = handle.setGateway
    const opened = sandboxes.open.bind(sandboxes)
    sandboxes.open = async (key) => {
      const h = await opened(key)
      return { ...h, setGateway: async () => Promise.reject(Object.assign(new Error('EINVAL'), { code: 'EINVAL' })) }
    }
    const c2 = await controller()
    const ep2 = c2.networkByName('n')?.endpoints()[0]
    await expect(ep2?.join(sb)).rejects.toMatchObject({ code: 'EINVAL' })
    expect(sandboxes.sandboxes.get(sb.key)?.interfaces.size).toBe(0)
    expect(kernel.calls.slice(-2)).toEqual(['join', 'leave'])
    sandboxes.open = opened
    void setGateway
    await c.refresh()
    await endpoint.join(sb)
    expect(sandboxes.sandboxes.get(sb.key)?.interfaces.get('eth0')).toMatchObject({ address: '10.0.1.2/24' })
    await endpoint.leave(sb)
    expect(sandboxes.sandboxes.get(sb.key)?.interfaces.size).toBe(0)
    expect(kernel.calls.at(-1)).toBe('leave')
  })

  it('refuses a network name or endpoint name twice, and deleting a network with endpoints', async () => {
    const c = await controller()
    const d = await c.newNetworkDriver('memory')
    const n = await c.newNetwork(d, 'dup', {})
    await expect(c.newNetwork(d, 'dup', {})).rejects.toMatchObject({ code: 'ERR_NETWORK_NAME_EXISTS' })
    await n.createEndpoint('e')
    await expect(n.createEndpoint('e')).rejects.toMatchObject({ code: 'ERR_ENDPOINT_NAME_EXISTS' })
    await expect(n.delete()).rejects.toMatchObject({ code: 'ERR_ACTIVE_ENDPOINTS' })
    expect(links()).toHaveLength(2)
  })
})

describe('two processes on one store', () => {
  it('sync: what one creates the other restores, what one deletes the other forgets', async () => {
    const a = await controller()
    const b = await controller()
    const n = await a.newNetwork(await a.newNetworkDriver('memory'), 'shared', {})
    const { endpoint } = await n.createEndpoint('e1', undefined, {
      portBindings: [{ proto: 'udp', containerPort: 53, hostPort: 5353 }],
    })
    await b.refresh()
    const seen = b.networkByName('shared')
    expect(seen?.endpoints().map((e) => e.name)).toEqual(['e1'])
    expect(b.ports()).toMatchObject([{ proto: 'udp', hostPort: 5353 }])
    // b deletes it; a forgets it on its next operation, releasing the address for reuse.
    await seen?.endpoints()[0]?.delete()
    expect(kernel.ports.size).toBe(0)
    await a.refresh()
    expect(n.endpoints()).toEqual([])
    expect(() => endpoint.inspect()).toThrow(/unknown endpoint/u)
    const { sandboxInfo } = await n.createEndpoint('e2')
    expect(sandboxInfo.interfaces[0]?.address).toBe('10.0.1.2/24')
  })

  it('a driver without persistence is re-created from the stored options', async () => {
    const flat = ({ owner }: { owner: string }) =>
      createMemoryDriver({ kernel, owner, name: 'flat', persistent: false })
    const a = await controller({ drivers: { flat } })
    const n = await a.newNetwork(await a.newNetworkDriver('flat'), 'f', { index: 9 })
    await n.createEndpoint('e', undefined, { host: 7 })
    await a.close()
    const b = await controller({ drivers: { flat } })
    expect(b.lastReconcile.errors).toEqual([])
    expect(b.networkByName('f')?.inspect()).toMatchObject({ subnet: '10.0.9.0/24' })
    expect(b.networkByName('f')?.endpoints()[0]?.inspect()).toMatchObject({ ipv4: '10.0.9.7' })
  })

  it('keeps the networks of a driver this process does not know, and reports them', async () => {
    const extra = ({ owner }: { owner: string }) => createMemoryDriver({ kernel, owner, name: 'extra' })
    const a = await controller({ drivers: { extra } })
    await a.newNetwork(await a.newNetworkDriver('extra'), 'x', {})
    await a.close()
    const b = await controller({ drivers: {} })
    expect(b.lastReconcile.errors).toEqual([expect.stringMatching(/driver extra: unknown driver/u)])
    expect(b.networks()).toEqual([])
    await b.close()
    const c = await controller({ drivers: { extra } })
    expect(c.networkByName('x')?.inspect().driver).toBe('extra')
    expect(links()).toHaveLength(1)
  })
})

describe('reconcile decisions', () => {
  it('rebuilds a network whose link is gone, drops dead endpoints and sandboxes, removes only its own strays', async () => {
    const c = await controller()
    const n = await c.newNetwork(await c.newNetworkDriver('memory'), 'r', {})
    const sb = await c.newSandbox('gone-box')
    const { endpoint } = await n.createEndpoint('dead', undefined, {
      portBindings: [{ proto: 'tcp', containerPort: 80, hostPort: 8081 }],
    })
    await endpoint.join(sb)
    const live = await n.createEndpoint('live')
    kernel.links.delete(`mem-${endpoint.id.slice(0, 12)}`)
    kernel.links.delete(`mem-${n.id.slice(0, 12)}`)
    kernel.links.set('mem-stray', { name: 'mem-stray', owner: c.store.id, network: 'f'.repeat(64) })
    kernel.links.set('mem-theirs', { name: 'mem-theirs', owner: 'another-store', network: 'e'.repeat(64) })
    sandboxes.sandboxes.delete(sb.key)
    // Reconcile looks at the "kernel" through the driver of a fresh process.
    await c.close()
    const d = await controller()
    const report = d.lastReconcile
    expect(report.rebuiltNetworks).toEqual(['r'])
    expect(report.droppedEndpoints).toEqual(['dead'])
    expect(report.droppedSandboxes).toEqual([sb.key])
    expect(report.removedLinks).toEqual(['mem-stray'])
    expect(report.errors).toEqual([])
    expect(kernel.links.has('mem-theirs')).toBe(true)
    expect(d.store.allocations().ports).toEqual([])
    expect(
      d
        .networkByName('r')
        ?.endpoints()
        .map((e) => e.name),
    ).toEqual([live.endpoint.name])
    // A second reconcile finds nothing more.
    expect(await d.reconcile()).toMatchObject({ rebuiltNetworks: [], droppedEndpoints: [], removedLinks: [] })
  })
})

describe('the null driver', () => {
  it('connects a sandbox with loopback only (`none` is its alias)', async () => {
    const c = await controller()
    const d = await c.newNetworkDriver('none')
    expect(d.type).toBe('null')
    const n = await c.newNetwork(d, 'isolated', {})
    const sb = await c.newSandbox('lonely')
    const { endpoint, sandboxInfo } = await n.createEndpoint('e')
    expect(sandboxInfo).toEqual({ interfaces: [] })
    await endpoint.join(sb)
    expect(endpoint.inspect()).toMatchObject({ ipv4: undefined, joined: { interface: '' } })
    expect(sandboxes.sandboxes.get(sb.key)?.interfaces.size).toBe(0)
    expect(c.networkByName('isolated')?.inspect()).toMatchObject({ driver: 'null', subnet: undefined })
    await expect(n.createEndpoint('p', undefined, { portBindings: [] })).rejects.toMatchObject({ kind: 'invalid' })
    await endpoint.leave(sb)
    await endpoint.delete()
    await n.delete()
    await c.close()
    const again = await controller()
    expect(again.lastReconcile.errors).toEqual([])
  })
})

describe('sandbox keys and owner marks (no writes through links, no keys anywhere)', () => {
  it('never writes a mark through a link, and a failed create deletes nothing it did not make', async () => {
    const { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } = await import('node:fs')
    const c = await controller()
    const victim = path.join(dir, 'victim')
    writeFileSync(victim, 'secret\n', { mode: 0o600 })
    mkdirSync(sandboxes.defaultDir, { recursive: true })
    chmodSync(sandboxes.defaultDir, 0o755)
    symlinkSync(victim, path.join(sandboxes.defaultDir, '.evil.cnm-owner'))
    await expect(c.newSandbox('evil')).rejects.toMatchObject({ code: 'ERR_SANDBOX_EXISTS', kind: 'conflict' })
    expect(readFileSync(victim, 'utf8')).toBe('secret\n')
    expect(sandboxes.sandboxes.size).toBe(0)

    // A duplicate create fails before anything is touched: the first sandbox keeps its mark.
    const first = await c.newSandbox('dup')
    const mark = path.join(sandboxes.defaultDir, '.dup.cnm-owner')
    expect(readFileSync(mark, 'utf8').trim()).toBe(c.store.id)
    await expect(c.newSandbox('dup')).rejects.toMatchObject({ code: 'ERR_SANDBOX_EXISTS' })
    expect(readFileSync(mark, 'utf8').trim()).toBe(c.store.id)
    // Another store's mark is not this store's to remove.
    const other = await createController({ storePath: path.join(dir, 'other.db'), sandboxBackend: sandboxes })
    open.push(other)
    await expect(other.newSandbox('dup')).rejects.toMatchObject({ code: 'ERR_SANDBOX_EXISTS' })
    expect(readFileSync(mark, 'utf8').trim()).toBe(c.store.id)
    await first.destroy()
    expect(() => readFileSync(mark)).toThrow()
  })

  it('refuses keys outside the sandbox directory unless asked, and directories others can write', async () => {
    const { chmodSync, mkdirSync } = await import('node:fs')
    const c = await controller()
    const outside = path.join(dir, 'elsewhere')
    mkdirSync(outside, { mode: 0o755 })
    chmodSync(outside, 0o755)
    await expect(c.newSandbox('o1', { key: path.join(outside, 'o1') })).rejects.toMatchObject({
      code: 'ERR_SANDBOX_KEY_OUTSIDE',
      kind: 'invalid',
    })
    await expect(c.newSandbox('o1', { key: '/etc/cnm-evil' })).rejects.toMatchObject({
      code: 'ERR_SANDBOX_KEY_OUTSIDE',
    })
    const ok = await c.newSandbox('o1', { key: path.join(outside, 'o1'), allowOutsideSandboxDir: true })
    expect(ok.key).toBe(path.join(outside, 'o1'))
    chmodSync(outside, 0o777)
    await expect(
      c.newSandbox('o2', { key: path.join(outside, 'o2'), allowOutsideSandboxDir: true }),
    ).rejects.toMatchObject({ code: 'ERR_UNSAFE_SANDBOX_DIR', message: expect.stringMatching(/writable by others/u) })
    chmodSync(outside, 0o755)
    expect(sandboxes.sandboxes.has(path.join(outside, 'o2'))).toBe(false)
  })
})

describe('connect and destroy are single transactions', () => {
  it('connect leaves nothing behind when its join fails, and holds nothing twice', async () => {
    const c = await controller()
    const n = await c.newNetwork(await c.newNetworkDriver('memory'), 'cx', {})
    const sb = await c.newSandbox('cbox')
    const ports = { portBindings: [{ proto: 'tcp', containerPort: 80, hostPort: 9090 }] }
    kernel.failNext('join')
    await expect(n.connect(sb, 'web', ports)).rejects.toMatchObject({ code: 'EIO' })
    expect(n.endpoints()).toEqual([])
    expect(c.store.snapshot().endpoints).toEqual([])
    expect(c.store.allocations()).toEqual({ ips: [], ports: [] })
    expect(kernel.ports.size).toBe(0)
    expect([...kernel.links.values()].filter((l) => l.endpoint)).toEqual([])
    const ep = await n.connect(sb, 'web', ports)
    expect(ep.inspect()).toMatchObject({ joined: { key: sb.key }, ports: [{ hostPort: 9090 }] })
    await expect(n.connect(sb, 'web', {})).rejects.toMatchObject({ code: 'ERR_ENDPOINT_NAME_EXISTS' })
    // A second interface on the same network is refused unless asked for, and leaves nothing.
    await expect(n.connect(sb, 'web2', {})).rejects.toMatchObject({ code: 'ERR_ALREADY_CONNECTED', kind: 'conflict' })
    expect(n.endpoints().map((e) => e.name)).toEqual(['web'])
    const second = await n.connect(sb, 'web2', {}, { allowSameNetwork: true })
    expect(second.inspect().joined?.interface).toBe('eth1')
  })

  it('a destroyed sandbox cannot be connected, and its endpoints go with it', async () => {
    // Two controllers on one store play two processes (one SQLite transaction at a time: in one
    // process they take turns); and inside one process both verbs are started at once.
    const a = await controller()
    const b = await controller()
    const net = await a.newNetwork(await a.newNetworkDriver('memory'), 'race', {})
    for (let round = 0; round < 6; round++) {
      const sb = await a.newSandbox(`r${round}`)
      await b.refresh()
      const sbInB = b.sandboxByID(sb.id)
      const netInB = b.networkByName('race')
      if (!sbInB || !netInB) throw new Error('not synced')
      const ports = { portBindings: [{ proto: 'udp', containerPort: 53, hostPort: 20000 + round }] }
      let connected: PromiseSettledResult<unknown>
      if (round % 3 === 0) {
        await sb.destroy() // a destroys; b, which has not looked yet, connects
        connected = await Promise.allSettled([netInB.connect(sbInB, 'e', ports)]).then(
          (r) => r[0] as PromiseSettledResult<unknown>,
        )
      } else if (round % 3 === 1) {
        connected = await Promise.allSettled([netInB.connect(sbInB, 'e', ports)]).then(
          (r) => r[0] as PromiseSettledResult<unknown>,
        )
        await sb.destroy() // b connected; a destroys the sandbox it had not seen joined
      } else {
        const [d, cn] = await Promise.allSettled([sb.destroy(), net.connect(sb, 'e', ports)])
        expect(d.status).toBe('fulfilled')
        connected = cn
      }
      if (connected.status === 'rejected') expect(connected.reason).toMatchObject({ code: 'ERR_UNKNOWN_SANDBOX' })
      await a.refresh()
      await b.refresh()
      // Nothing of the sandbox or its endpoint is left: no record, no address, no port, no link.
      expect(a.sandboxes()).toEqual([])
      expect(net.endpoints()).toEqual([])
      expect(netInB.endpoints()).toEqual([])
      expect(a.store.allocations()).toEqual({ ips: [], ports: [] })
      expect(kernel.ports.size).toBe(0)
      expect([...kernel.links.values()].filter((l) => l.endpoint)).toEqual([])
    }
  })
})

describe('the store checks what the crash and concurrency tests rely on', () => {
  it('finds addresses and ports held twice, allocations without endpoints, endpoints without allocations', async () => {
    const c = await controller()
    const n = await c.newNetwork(await c.newNetworkDriver('memory'), 'chk', {})
    const { endpoint: e1 } = await n.createEndpoint('e1', undefined, {
      portBindings: [{ proto: 'tcp', containerPort: 80, hostPort: 8080 }],
    })
    const { endpoint: e2 } = await n.createEndpoint('e2')
    expect(c.store.allocationProblems()).toEqual([])
    // Corrupt the store by hand, through a second connection with foreign keys off.
    const { default: Database } = await import('better-sqlite3')
    const db = new Database(path.join(dir, 'cnm.db'))
    db.pragma('foreign_keys = OFF')
    db.prepare('DELETE FROM ip_allocations WHERE endpoint_id = ?').run(e2.id)
    db.prepare("INSERT INTO ip_allocations (pool, ip, endpoint_id) VALUES ('10.0.9.0/24', '10.0.1.2', ?)").run(e2.id)
    db.prepare(
      "INSERT INTO port_allocations (proto, host_ip, port, endpoint_id) VALUES ('tcp', '10.1.1.1', 8080, ?)",
    ).run(e2.id)
    db.prepare(
      "INSERT INTO port_allocations (proto, host_ip, port, endpoint_id) VALUES ('udp', '0.0.0.0', 53, 'gone')",
    ).run()
    db.close()
    const problems = c.store.allocationProblems()
    expect(problems).toEqual(
      expect.arrayContaining([
        `address 10.0.1.2 held twice (by ${e1.id}, ${e2.id})`,
        `port tcp 8080 held twice (0.0.0.0 by ${e1.id}, 10.1.1.1 by ${e2.id})`,
        'port udp 0.0.0.0:53 is allocated to no endpoint',
        'endpoint e2 has address 10.0.1.3 without its allocation',
      ]),
    )
    expect(problems).toHaveLength(4)
    expect((await c.reconcile()).errors).toEqual(expect.arrayContaining(problems))
  })
})

describe('a store that changes under the controller', () => {
  it('an emptied store is noticed (ERR_STORE_MISMATCH naming what was found), and its orphans can be removed', async () => {
    const { truncateSync, rmSync: rm } = await import('node:fs')
    const a = await controller()
    const oldId = a.store.id
    const n = await a.newNetwork(await a.newNetworkDriver('memory'), 'lost', {})
    await a.newSandbox('lostbox')
    await n.createEndpoint('e')
    await a.close()
    const db = path.join(dir, 'cnm.db')
    truncateSync(db, 0)
    rm(`${db}-wal`, { force: true })
    rm(`${db}-shm`, { force: true })
    await expect(controller()).rejects.toMatchObject({
      code: 'ERR_STORE_MISMATCH',
      kind: 'conflict',
      message: expect.stringMatching(new RegExp(`cnm:${oldId}.*1 namespace\\(s\\).*lostbox.*remove-orphans`, 'u')),
    })
    expect(links()).toHaveLength(2) // nothing was touched
    const b = await controller({ onStoreMismatch: 'remove-orphans' })
    expect(b.store.id).toBe(oldId)
    expect(b.lastReconcile.removedLinks).toHaveLength(2)
    expect(b.lastReconcile.removedLinks).toContain(`mem-${n.id.slice(0, 12)}`)
    expect(b.lastReconcile.removedNamespaces).toEqual([path.join(sandboxes.defaultDir, 'lostbox')])
    expect(links()).toEqual([])
  })

  it('a store removed while the controller runs: it refuses to go on instead of splitting in two', async () => {
    const { rmSync: rm } = await import('node:fs')
    const a = await controller()
    const d = await a.newNetworkDriver('memory')
    await a.newNetwork(d, 'before', {})
    rm(path.join(dir, 'cnm.db'))
    await expect(a.newNetwork(d, 'after', {})).rejects.toMatchObject({
      code: 'ERR_STORE_MISMATCH',
      kind: 'unavailable',
    })
    expect(links()).toHaveLength(1)
  })
})

describe('reconcile inside a running process looks at the kernel, not at its memory', () => {
  it('finds a network link and an endpoint link deleted behind its back, without a restart', async () => {
    const c = await controller()
    const n = await c.newNetwork(await c.newNetworkDriver('memory'), 'live', {})
    const { endpoint } = await n.createEndpoint('e1', undefined, {
      portBindings: [{ proto: 'tcp', containerPort: 80, hostPort: 8088 }],
    })
    await n.createEndpoint('e2')
    kernel.links.delete(`mem-${n.id.slice(0, 12)}`)
    kernel.links.delete(`mem-${endpoint.id.slice(0, 12)}`)
    const report = await c.reconcile()
    expect(report).toMatchObject({ rebuiltNetworks: ['live'], droppedEndpoints: ['e1'], errors: [] })
    expect(kernel.links.has(`mem-${n.id.slice(0, 12)}`)).toBe(true)
    expect(c.store.allocations().ports).toEqual([])
    expect(kernel.ports.size).toBe(0)
    // The rest still works, and a second pass finds nothing.
    expect(n.endpoints().map((e) => e.name)).toEqual(['e2'])
    await n.createEndpoint('e3', undefined, { portBindings: [{ proto: 'tcp', containerPort: 80, hostPort: 8088 }] })
    expect(await c.reconcile()).toMatchObject({ rebuiltNetworks: [], droppedEndpoints: [], errors: [] })
  })
})
