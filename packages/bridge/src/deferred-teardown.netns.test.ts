import { randomBytes } from 'node:crypto'
import type { Interface } from '@cnm/driverapi'
import { type ConntrackEntry, createNetns, deleteNetns, type Handle, openHandle } from '@cnm/netlink'
import { describeKernel, pings, run, uniqueName, useHostNetns } from '@cnm/netlink/testing'
import { newSandbox, type Sandbox } from '@cnm/sandbox'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { deferTeardown } from './deferred-teardown.js'
import { type BridgeDriver, createBridgeDriver } from './driver.js'
import { isParked } from './endpoint.js'
import { createFlushQueue } from './flush-queue.js'
import type { DriverResources, EndpointState, NetworkState } from './resources.js'

const id = (): string => randomBytes(32).toString('hex')

/**
 * A long-lived owner (`deferTeardown`, the daemon's default) flushes a deleted endpoint's
 * conntrack entries after its delete answered: checked here against the kernel's table.
 */
describeKernel('conntrack flush after the delete answered (kernel)', () => {
  const host = useHostNetns()
  let driver: BridgeDriver
  let hostHandle: Handle
  const flushErrors: unknown[] = []

  beforeAll(async () => {
    driver = createBridgeDriver({
      owner: 'ctdefer',
      deferTeardown: true,
      conntrackFlushDelayMs: 60_000, // run only when something needs it done
      onTeardownError: (err) => flushErrors.push(err),
    })
    await driver.config({ firewallBackend: 'nftables' })
    hostHandle = await openHandle()
  })

  afterAll(async () => {
    hostHandle?.close()
    await driver?.close()
  })

  interface Box {
    sb: Sandbox
    eid: string
  }

  async function attach(d: BridgeDriver, nid: string, opts: unknown): Promise<Box> {
    const sb = await newSandbox(host.netnsPath('sb'))
    const eid = id()
    const info = await d.createEndpoint(nid, eid, sb.key, opts)
    for (const i of info.interfaces) await sb.addInterface(i)
    if (info.gateway) await sb.setGateway(info.gateway)
    return { sb, eid }
  }

  /** The host's conntrack entries with `ip` on either side, before or after NAT. */
  async function entriesOf(ip: string): Promise<ConntrackEntry[]> {
    return (await hostHandle.listConntrack()).filter(
      (e) => e.original.src === ip || e.original.dst === ip || e.reply.src === ip,
    )
  }

  it("a deleted endpoint's entries go once its address is asked for again, or its network goes; another endpoint does not wait", async () => {
    const nid = id()
    await driver.createNetwork(nid, { addressIPv4: '10.73.0.1/24' })
    const a = await attach(driver, nid, { ipv4Address: '10.73.0.10' })
    expect(pings('10.73.0.1', a.sb.key)).toBe(true) // an entry for the address (ICMP: 30 s)
    expect(await entriesOf('10.73.0.10')).not.toEqual([])
    await driver.deleteEndpoint(nid, a.eid)
    // Another endpoint (any address): the flush (a minute away in this driver) is not waited for,
    // and the address is still reserved for it.
    const c = await attach(driver, nid, {})
    expect(await entriesOf('10.73.0.10')).not.toEqual([])
    expect(driver.endpointInfo(nid, c.eid).ipv4).not.toBe('10.73.0.10')
    // The same address: given only once its flush ran, at once.
    const b = await attach(driver, nid, { ipv4Address: '10.73.0.10' })
    expect(await entriesOf('10.73.0.10')).toEqual([])
    expect(pings('10.73.0.1', b.sb.key)).toBe(true)
    expect(await entriesOf('10.73.0.10')).not.toEqual([])
    await driver.deleteEndpoint(nid, b.eid)
    await driver.deleteEndpoint(nid, c.eid)
    await driver.deleteNetwork(nid) // runs the flushes and waits: the pool is whole when it goes
    expect(await entriesOf('10.73.0.10')).toEqual([])
    for (const box of [a, b, c]) await box.sb.destroy()
    expect(flushErrors).toEqual([])
  })

  it('a full pool hands out an address whose flush is pending once the flush ran, not ERR_NO_AVAILABLE_IPS', async () => {
    const nid = id()
    await driver.createNetwork(nid, { addressIPv4: '10.73.1.1/29' }) // .2–.6 for endpoints
    const a = await attach(driver, nid, {})
    expect(driver.endpointInfo(nid, a.eid).ipv4).toBe('10.73.1.2')
    expect(pings('10.73.1.1', a.sb.key)).toBe(true)
    const fillers: string[] = []
    for (let i = 0; i < 4; i++) {
      const eid = id()
      await driver.createEndpoint(nid, eid, '', {}) // no sandbox: only its address matters here
      fillers.push(eid)
    }
    await driver.deleteEndpoint(nid, a.eid)
    // Still reserved: the pool is full until the flush ran (a minute away in this driver).
    expect(await entriesOf('10.73.1.2')).not.toEqual([])
    const b = await attach(driver, nid, {})
    expect(driver.endpointInfo(nid, b.eid).ipv4).toBe('10.73.1.2')
    expect(await entriesOf('10.73.1.2')).toEqual([]) // flushed before it was handed out again
    for (const eid of [b.eid, ...fillers]) await driver.deleteEndpoint(nid, eid)
    await driver.deleteNetwork(nid)
    for (const box of [a, b]) await box.sb.destroy()
    expect(flushErrors).toEqual([])
  })

  it('an IPv6 address is held for its flush too, and a publish waits for the flush of an endpoint that had ports', async () => {
    const [n1, n2] = [id(), id()]
    await driver.createNetwork(n1, {
      addressIPv4: '10.73.2.1/24',
      enableIPv6: true,
      fixedCIDRv6: 'fd00:73:2::/64',
    })
    await driver.createNetwork(n2, { addressIPv4: '10.73.3.1/24' })
    const a = await attach(driver, n1, {
      ipv6Address: 'fd00:73:2::10',
      portBindings: [{ proto: 'tcp', containerPort: 80, hostPort: 18273 }],
    })
    const v4 = driver.endpointInfo(n1, a.eid).ipv4 as string
    expect(pings('fd00:73:2::1', a.sb.key)).toBe(true)
    expect(pings('10.73.2.1', a.sb.key)).toBe(true)
    await driver.deleteEndpoint(n1, a.eid)
    expect(await entriesOf('fd00:73:2::10')).not.toEqual([])
    // Another network, no port: nothing to wait for.
    const c = await attach(driver, n2, {})
    expect(await entriesOf(v4)).not.toEqual([])
    // Another network publishing a port: a's flush (its ports' flows) runs first.
    const d = await attach(driver, n2, { portBindings: [{ proto: 'tcp', containerPort: 80, hostPort: 18273 }] })
    expect(await entriesOf(v4)).toEqual([])
    expect(await entriesOf('fd00:73:2::10')).toEqual([])
    // The IPv6 address by name: free again, at once.
    const b = await attach(driver, n1, { ipv6Address: 'fd00:73:2::10' })
    expect(driver.endpointInfo(n1, b.eid).ipv6).toBe('fd00:73:2::10')
    for (const [nid, box] of [
      [n1, b],
      [n2, c],
      [n2, d],
    ] as const)
      await driver.deleteEndpoint(nid, box.eid)
    await driver.deleteNetwork(n1)
    await driver.deleteNetwork(n2)
    for (const box of [a, b, c, d]) await box.sb.destroy()
    expect(flushErrors).toEqual([])
  })

  it('with no next owner, the veth goes and the flush runs on their own just after the delete answered; the same id waits', async () => {
    const nid = id()
    const own = createBridgeDriver({ owner: 'ctdefer3', deferTeardown: true }) // no delay
    try {
      await own.config({ firewallBackend: 'nftables' })
      await own.createNetwork(nid, { addressIPv4: '10.75.0.1/24' })
      const a = await attach(own, nid, { ipv4Address: '10.75.0.10' })
      const veth = (): boolean =>
        (
          JSON.parse(
            run('ip', ['-j', 'link', 'show', 'master', own.network(nid)?.bridgeName as string]).stdout,
          ) as unknown[]
        ).length > 0
      expect(veth()).toBe(true)
      expect(pings('10.75.0.1', a.sb.key)).toBe(true)
      await own.deleteEndpoint(nid, a.eid)
      const deadline = Date.now() + 3000 // both start at once, on the thread pool
      while ((veth() || (await entriesOf('10.75.0.10')).length > 0) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20))
      }
      expect(veth()).toBe(false) // the kernel's own listing: no port left on the bridge
      expect(await entriesOf('10.75.0.10')).toEqual([])
      // An endpoint of the same id (its veth's name) just after its delete: it waits, no EEXIST.
      const eid = id()
      await own.createEndpoint(nid, eid, '', {})
      await own.deleteEndpoint(nid, eid)
      await own.createEndpoint(nid, eid, '', {})
      expect(veth()).toBe(true)
      await own.deleteEndpoint(nid, eid)
      await own.deleteNetwork(nid) // waits for the teardown: the bridge goes with nothing on it
      await a.sb.destroy()
    } finally {
      await own.close()
    }
  })

  it("a Docker endpoint whose container end dockerd moved back out: its address goes to the next endpoint, flows flushed, without waiting for the veth's deletion", async () => {
    const nid = id()
    await driver.createNetwork(nid, { addressIPv4: '10.77.0.1/24' })
    // As dockerd: no sandbox key (the container end waits in the host's namespace), moved into the
    // container at Join, and back out under its first name when the container leaves.
    const eid = id()
    const info = await driver.createEndpoint(nid, eid, '', { ipv4Address: '10.77.0.10' })
    const state = (): EndpointState => {
      const ep = driver.network(nid)?.endpoints.find((e) => e.id === eid)
      if (!ep) throw new Error('no endpoint')
      return ep
    }
    const parkedName = info.interfaces[0]?.srcName as string
    expect(await isParked(hostHandle, state())).toBe(true) // born in the host's namespace
    const sb = await newSandbox(host.netnsPath('sb'))
    await sb.addInterface(info.interfaces[0] as Interface)
    await sb.setGateway(info.gateway as string)
    expect(await isParked(hostHandle, state())).toBe(false) // in its container: it may send
    expect(pings('10.77.0.1', sb.key)).toBe(true)
    expect(await entriesOf('10.77.0.10')).not.toEqual([])
    await sb.removeInterface('eth0') // dockerd's Leave: back out, down, under its first name
    expect(JSON.parse(run('ip', ['-j', 'link', 'show', parkedName]).stdout)).toHaveLength(1)
    expect(await isParked(hostHandle, state())).toBe(true)
    await driver.deleteEndpoint(nid, eid)
    // The next owner of the address (this driver's flush waits a minute unless something needs it):
    // the old flows are gone before it has the address.
    const next = await attach(driver, nid, { ipv4Address: '10.77.0.10' })
    expect(await entriesOf('10.77.0.10')).toEqual([])
    expect(pings('10.77.0.1', next.sb.key)).toBe(true)
    await driver.deleteEndpoint(nid, next.eid)
    await driver.deleteNetwork(nid) // waits for both teardowns: nothing of either is left
    expect(run('ip', ['-j', 'link', 'show', parkedName], { check: false }).status).not.toBe(0)
    for (const box of [sb, next.sb]) await box.destroy()
    expect(flushErrors).toEqual([])
  })

  it("a parked endpoint's flush and release do not wait for its veth's deletion; a joined one's do", async () => {
    const res = {
      host: hostHandle,
      conntrack: undefined,
      flushes: createFlushQueue(async () => undefined),
      deferred: new Set(),
      flushDelayMs: 0,
      onTeardownError: (err: unknown) => flushErrors.push(err),
    } as unknown as DriverResources
    const net = {} as NetworkState
    const released: string[] = []
    for (const parked of [true, false]) {
      let linkGone = (): void => undefined
      const ep = { id: id(), ipv4: undefined, ipv6: undefined } as unknown as EndpointState
      deferTeardown(res, net, ep, [], {
        // The kernel's deletion of the veth, held until the test lets it end.
        removeLink: () =>
          new Promise<void>((resolve) => {
            linkGone = resolve
          }),
        release: [() => released.push(`${parked}`)],
        parked,
      })
      const [entry] = [...res.deferred]
      if (!entry) throw new Error('no deferred teardown')
      const settled = await Promise.race([
        entry.released.then(() => true),
        new Promise((r) => setTimeout(() => r(false), 200)),
      ])
      expect(settled).toBe(parked)
      expect(res.deferred.size).toBe(1) // tracked until the veth is gone
      linkGone()
      await entry.done
      expect(released).toContain(`${parked}`)
      expect(res.deferred.size).toBe(0)
    }
    expect(flushErrors).toEqual([])
  })

  it("a restart's first stray check flushes the entries of the subnet's free addresses, and only those", async () => {
    const nid = id()
    const first = createBridgeDriver({ owner: 'ctdefer2', deferTeardown: true })
    await first.config({ firewallBackend: 'nftables' })
    await first.createNetwork(nid, { addressIPv4: '10.74.0.1/24' })
    const kept = await attach(first, nid, { ipv4Address: '10.74.0.20' })
    const lost = await attach(first, nid, { ipv4Address: '10.74.0.21' })
    for (const box of [kept, lost]) expect(pings('10.74.0.1', box.sb.key)).toBe(true)
    const netRecord = first.persistence.exportNetwork(nid)
    const keptRecord = first.persistence.exportEndpoint(nid, kept.eid)
    // The process dies after the store dropped `lost` but before its flush ran: the kernel keeps
    // its interface (a stray) and its entries.
    await first.close()
    // Told the last writer stopped cleanly (its teardowns all ran): no sweep.
    const clean = createBridgeDriver({ owner: 'ctdefer2', deferTeardown: true, uncleanStart: false })
    try {
      await clean.config({ firewallBackend: 'nftables' })
      expect(await clean.persistence.restoreNetwork(nid, netRecord)).toBe('restored')
      expect(await clean.persistence.restoreEndpoint(nid, kept.eid, keptRecord)).toBe('restored')
      const report = await clean.persistence.removeStrays({
        networks: new Map([[nid, netRecord]]),
        endpoints: new Map([[kept.eid, { networkId: nid, record: keptRecord }]]),
      })
      expect(report.links).toHaveLength(1) // lost's host-side veth: a stray all the same
      expect(report.errors).toEqual([])
    } finally {
      await clean.close()
    }
    expect(await entriesOf('10.74.0.21')).not.toEqual([])
    const second = createBridgeDriver({ owner: 'ctdefer2', deferTeardown: true })
    try {
      await second.config({ firewallBackend: 'nftables' })
      expect(await second.persistence.restoreNetwork(nid, netRecord)).toBe('restored')
      expect(await second.persistence.restoreEndpoint(nid, kept.eid, keptRecord)).toBe('restored')
      expect(await entriesOf('10.74.0.21')).not.toEqual([])
      const report = await second.persistence.removeStrays({
        networks: new Map([[nid, netRecord]]),
        endpoints: new Map([[kept.eid, { networkId: nid, record: keptRecord }]]),
      })
      expect(report.errors).toEqual([])
      expect(report.links).toHaveLength(0) // removed by the clean start's check already
      expect(await entriesOf('10.74.0.21')).toEqual([])
      expect(await entriesOf('10.74.0.20')).not.toEqual([]) // the endpoint it restored keeps its flows
      await second.deleteEndpoint(nid, kept.eid)
      await second.deleteNetwork(nid)
    } finally {
      await second.close()
      for (const box of [kept, lost]) await box.sb.destroy()
    }
  })

  it("the restart's sweep leaves alone the flows of another host on a bridge cnm adopted", async () => {
    const br = uniqueName('br')
    const vm = host.netnsPath('vm')
    run('ip', ['link', 'add', br, 'type', 'bridge'])
    run('ip', ['addr', 'add', '10.76.0.1/24', 'dev', br])
    run('ip', ['link', 'set', br, 'up'])
    const own = createBridgeDriver({ owner: 'ctdefer4', deferTeardown: true })
    try {
      // "A VM" on the bridge: a veth of its own, an address cnm never handed out.
      await createNetns(vm)
      const port = uniqueName('vm')
      run('ip', ['link', 'add', port, 'master', br, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', vm])
      run('ip', ['link', 'set', port, 'up'])
      run('ip', ['addr', 'add', '10.76.0.50/24', 'dev', 'eth0'], { netns: vm })
      run('ip', ['link', 'set', 'eth0', 'up'], { netns: vm })
      await own.config({ firewallBackend: 'nftables' })
      const nid = id()
      await own.createNetwork(nid, { bridgeName: br })
      expect(pings('10.76.0.1', vm)).toBe(true) // tracked now (cnm's rules need conntrack)
      expect(await entriesOf('10.76.0.50')).not.toEqual([])
      const report = await own.persistence.removeStrays({
        networks: new Map([[nid, own.persistence.exportNetwork(nid)]]),
        endpoints: new Map(),
      })
      expect(report.errors).toEqual([])
      expect(await entriesOf('10.76.0.50')).not.toEqual([])
      await own.deleteNetwork(nid)
    } finally {
      await own.close()
      deleteNetns(vm)
      run('ip', ['link', 'del', br])
    }
  })
})
