import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describeKernel, ipJson, pings, request, run, startServer, useHostNetns } from '@cnm/netlink/testing'

function waitForLinkGone(name: string): boolean {
  for (let i = 0; i < 150; i++) {
    if (run('ip', ['link', 'show', name], { check: false }).status !== 0) return true
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20)
  }
  return false
}

import { newSandbox } from '@cnm/sandbox'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createController } from '../src/controller.js'
import {
  ERR_ACTIVE_ENDPOINTS,
  ERR_INVALID_NETWORK_DRIVER,
  ERR_NETWORK_NAME_EXISTS,
  ERR_NIL_NETWORK_DRIVER,
  ERR_UNKNOWN_DRIVER,
  ERR_UNKNOWN_ENDPOINT,
  ERR_UNKNOWN_NETWORK,
} from '../src/errors.js'
import { isValidID } from '../src/id.js'
import type { NetworkDriver } from '../src/types.js'

describeKernel('controller (kernel)', () => {
  const host = useHostNetns()
  let tmp: string
  let sandboxDir: string
  const storePath = (): string => path.join(tmp, 'cnm.db')

  beforeAll(() => {
    tmp = mkdtempSync(path.join(tmpdir(), 'cnm-ctl-'))
    sandboxDir = path.join(host.dir, 'sandboxes')
  })
  afterAll(() => {
    rmSync(tmp, { recursive: true, force: true })
    rmSync(sandboxDir, { recursive: true, force: true })
  })

  it("runs libnetwork's README flow, then again after a restart on the same store", async () => {
    const controller = await createController({ storePath: storePath(), sandboxDir })
    const driver = await controller.newNetworkDriver('bridge', {})
    const network = await controller.newNetwork(driver, 'network1', {})
    const sandbox = await newSandbox(path.join(sandboxDir, '4d23e'))
    const { endpoint, sandboxInfo } = await network.createEndpoint('Endpoint1', sandbox.key, {})
    for (const iface of sandboxInfo.interfaces) await sandbox.addInterface(iface)
    await sandbox.setGateway(sandboxInfo.gateway ?? '')
    expect(isValidID(network.id)).toBe(true)
    expect(isValidID(endpoint.id)).toBe(true)
    expect(pings(sandboxInfo.gateway ?? '', sandbox.key)).toBe(true)
    await controller.close()

    const again = await createController({ storePath: storePath(), sandboxDir })
    expect(again.lastReconcile).toMatchObject({ errors: [], droppedEndpoints: [], removedLinks: [] })
    const restored = again.networkByName('network1')
    expect(restored?.id).toBe(network.id)
    expect(restored?.endpoints().map((e) => e.name)).toEqual(['Endpoint1'])
    expect(pings(sandboxInfo.gateway ?? '', sandbox.key)).toBe(true)
    // Its address is held again: the next endpoint gets another one.
    const second = await restored?.createEndpoint('Endpoint2')
    expect(second?.sandboxInfo.interfaces[0]?.address).not.toBe(sandboxInfo.interfaces[0]?.address)
    await second?.endpoint.delete()
    await restored?.endpoints()[0]?.delete()
    await restored?.delete()
    await sandbox.destroy()
    await again.close()
  })

  it("a controller on another store leaves this store's networks, endpoints and sandboxes alone", async () => {
    const a = await createController({ storePath: path.join(tmp, 'a.db'), sandboxDir })
    const n = await a.newNetwork(await a.newNetworkDriver('bridge'), 'mine', { addressIPv4: '10.98.0.1/24' })
    const sb = await a.newSandbox('mine1')
    const { endpoint } = await n.createEndpoint('mine1', sb.key, {
      portBindings: [{ proto: 'tcp', containerPort: 80 }],
    })
    await endpoint.join(sb)
    const other = await createController({ storePath: path.join(tmp, 'b.db'), sandboxDir })
    expect(other.lastReconcile).toMatchObject({
      removedLinks: [],
      removedFirewallNetworks: [],
      removedFirewallPorts: [],
      removedNamespaces: [],
      errors: [],
    })
    await other.close()
    expect(pings(n.inspect().gateway ?? '', sb.key)).toBe(true)
    await sb.destroy() // its endpoint was born inside: it goes with it, as a container's do in Docker
    expect(n.endpoints()).toEqual([])
    await expect(endpoint.delete()).rejects.toMatchObject({ code: ERR_UNKNOWN_ENDPOINT })
    await n.delete()
    await a.close()
  })

  it('a join that fails part-way leaves nothing joined, and can be tried again', async () => {
    const c = await createController({ storePath: false, sandboxDir })
    const n = await c.newNetwork(await c.newNetworkDriver('bridge'), 'half', { addressIPv4: '10.99.1.1/24' })
    const sb = await c.newSandbox('half1')
    const { endpoint } = await n.createEndpoint('half1') // parked in the host until it joins
    run('ip', ['route', 'add', 'default', 'dev', 'lo'], { netns: sb.key }) // setGateway will hit EEXIST
    await expect(endpoint.join(sb)).rejects.toMatchObject({ code: 'EEXIST' })
    const inside = () =>
      (JSON.parse(run('ip', ['-j', 'link', 'show'], { netns: sb.key }).stdout) as { ifname: string }[]).map(
        (l) => l.ifname,
      )
    expect(inside()).toEqual(['lo'])
    expect(sb.endpoints()).toEqual([])
    run('ip', ['route', 'del', 'default', 'dev', 'lo'], { netns: sb.key })
    await endpoint.join(sb)
    expect(inside().sort()).toEqual(['eth0', 'lo'])
    await sb.destroy()
    await endpoint.delete()
    await n.delete()
    await c.close()
  })

  it('after a restart, leave still moves an interface that came from the host back there', async () => {
    const store = path.join(tmp, 'leave.db')
    const c = await createController({ storePath: store, sandboxDir })
    const n = await c.newNetwork(await c.newNetworkDriver('bridge'), 'back', { addressIPv4: '10.99.2.1/24' })
    const sb = await c.newSandbox('back1')
    const { endpoint } = await n.createEndpoint('back1') // parked in the host as vetc<id>
    await endpoint.join(sb)
    await c.close()
    const again = await createController({ storePath: store, sandboxDir })
    const ep = again.networkByName('back')?.endpoints()[0]
    const box = again.sandboxes()[0]
    if (!ep || !box) throw new Error('not restored')
    await ep.leave(box)
    const parked = `vetc${endpoint.id.slice(0, 11)}`
    expect(run('ip', ['link', 'show', parked], { check: false }).status).toBe(0)
    await ep.join(box) // and it can join again
    await box.destroy()
    await ep.delete()
    await again.networkByName('back')?.delete()
    await again.close()
  })

  it('deleting a joined endpoint whose interface came from the host deletes it in the sandbox: nothing moves back, nothing is left', async () => {
    const c = await createController({ storePath: path.join(tmp, 'discard.db'), sandboxDir })
    const n = await c.newNetwork(await c.newNetworkDriver('bridge'), 'gone', { addressIPv4: '10.99.3.1/24' })
    const sb = await c.newSandbox('gone1')
    try {
      const { endpoint } = await n.createEndpoint('gone1') // parked in the host as vetc<id>
      await endpoint.join(sb)
      const parked = `vetc${endpoint.id.slice(0, 11)}`
      const bridge = n.inspect().device
      const inSandbox = (): string[] =>
        ipJson<{ ifname: string }[]>(['link', 'show'], { netns: sb.key }).map((l) => l.ifname)
      const onBridge = (): string[] =>
        ipJson<{ ifname: string; master?: string }[]>(['link', 'show'])
          .filter((l) => bridge !== undefined && l.master === bridge)
          .map((l) => l.ifname)
      expect(inSandbox()).toContain('eth0')
      expect(onBridge()).toHaveLength(1)
      // A move back would show the parked name in the host's link events.
      const monitor = spawn('ip', ['-o', 'monitor', 'link'], { stdio: ['ignore', 'pipe', 'ignore'] })
      let events = ''
      monitor.stdout.on('data', (d) => {
        events += d
      })
      await new Promise((resolve) => setTimeout(resolve, 300)) // listening
      await endpoint.delete()
      await new Promise((resolve) => setTimeout(resolve, 300))
      monitor.kill()
      expect(events).toMatch(/Deleted/u) // it saw the host end go
      expect(events).not.toContain(parked)
      expect(run('ip', ['link', 'show', parked], { check: false }).status).not.toBe(0)
      expect(inSandbox()).toEqual(['lo'])
      expect(onBridge()).toEqual([]) // the host end went with its peer
    } finally {
      await sb.destroy()
      await n.delete()
      await c.close()
    }
  })

  it("keeps the seed's controller behaviours", async () => {
    const c = await createController({ storePath: false, sandboxDir })
    await expect(c.newNetworkDriver('ipvlan')).rejects.toMatchObject({
      code: ERR_UNKNOWN_DRIVER,
      message: 'unknown driver "ipvlan"',
    })
    const d = await c.newNetworkDriver('simplebridge')
    await expect(c.newNetwork(null as unknown as NetworkDriver, 'x')).rejects.toMatchObject({
      code: ERR_NIL_NETWORK_DRIVER,
    })
    await expect(c.newNetwork({ type: 'bridge' }, 'x')).rejects.toMatchObject({ code: ERR_INVALID_NETWORK_DRIVER })
    const n = await c.newNetwork(d, 'net-a', { addressIPv4: '10.91.0.1/24' })
    await expect(c.newNetwork(d, 'net-a', { addressIPv4: '10.92.0.1/24' })).rejects.toMatchObject({
      code: ERR_NETWORK_NAME_EXISTS,
      message: 'network with name net-a already exists',
    })
    const { endpoint } = await n.createEndpoint('ep1')
    await expect(n.delete()).rejects.toMatchObject({ code: ERR_ACTIVE_ENDPOINTS })
    await endpoint.delete()
    await expect(endpoint.delete()).rejects.toMatchObject({ code: ERR_UNKNOWN_ENDPOINT })
    await n.delete()
    await expect(n.delete()).rejects.toMatchObject({ code: ERR_UNKNOWN_NETWORK })
    expect(c.networks()).toEqual([])
    await c.close()
  })

  it('joins one sandbox to two networks; leave removes exactly one', async () => {
    const c = await createController({ storePath: false, sandboxDir })
    const d = await c.newNetworkDriver('bridge')
    const [n1, n2] = [
      await c.newNetwork(d, 'front', { addressIPv4: '10.93.0.1/24' }),
      await c.newNetwork(d, 'back', { addressIPv4: '10.94.0.1/24' }),
    ]
    const sb = await c.newSandbox('container1')
    const peer = await c.newSandbox('container2')
    const e1 = (await n1.createEndpoint('c1-front')).endpoint
    const e2 = (await n2.createEndpoint('c1-back', sb.key)).endpoint
    const p1 = (await n1.createEndpoint('c2-front', peer.key)).endpoint
    const p2 = (await n2.createEndpoint('c2-back')).endpoint
    await e1.join(sb)
    await e2.join(sb)
    await p1.join(peer)
    await p2.join(peer)
    const links = JSON.parse(run('ip', ['-j', 'link', 'show'], { netns: sb.key }).stdout) as { ifname: string }[]
    expect(links.map((l) => l.ifname).sort()).toEqual(['eth0', 'eth1', 'lo'])
    expect(
      sb
        .endpoints()
        .map((e) => e.name)
        .sort(),
    ).toEqual(['c1-back', 'c1-front'])
    const ip = (e: typeof p1): string => (e.sandboxInfo.interfaces[0]?.address ?? '').split('/')[0] ?? ''
    expect(pings(ip(p1), sb.key)).toBe(true)
    expect(pings(ip(p2), sb.key)).toBe(true)
    await e1.leave(sb)
    expect(pings(ip(p1), sb.key)).toBe(false)
    expect(pings(ip(p2), sb.key)).toBe(true)
    expect(sb.endpoints().map((e) => e.name)).toEqual(['c1-back'])
    await sb.destroy()
    await peer.destroy()
    // Born inside a sandbox (e2, p1): gone with it. Moved in from the host (e1, p2): back there.
    expect([...n1.endpoints(), ...n2.endpoints()].map((e) => e.name).sort()).toEqual(['c1-front', 'c2-back'])
    for (const e of [e1, p2]) await e.delete()
    await n1.delete()
    await n2.delete()
    await c.close()
  })

  it('restores published ports after a restart and reconciles what was lost', async () => {
    const c = await createController({ storePath: storePath(), sandboxDir })
    const d = await c.newNetworkDriver('bridge')
    const n = await c.newNetwork(d, 'web', { addressIPv4: '10.95.0.1/24' })
    const sb = await c.newSandbox('web1')
    const { endpoint } = await n.createEndpoint('web1', sb.key, {
      portBindings: [{ proto: 'tcp', containerPort: 80, hostPort: 18095 }],
    })
    await endpoint.join(sb)
    const gone = await c.newSandbox('gone1')
    const lost = (await n.createEndpoint('lost', gone.key)).endpoint
    await lost.join(gone)
    const server = await startServer(80, 'web', sb.key)
    try {
      expect(request('tcp', '127.0.0.1', 18095)).toMatch(/^web /u)
      await c.close()
      // While no controller runs: the second sandbox disappears behind cnm's back.
      run('umount', [gone.key])
      run('rm', [gone.key])
      expect(waitForLinkGone(`veth${lost.id.slice(0, 11)}`)).toBe(true) // the kernel frees it shortly after
      const again = await createController({ storePath: storePath(), sandboxDir })
      expect(again.lastReconcile).toMatchObject({ errors: [], droppedEndpoints: ['lost'] })
      expect(again.lastReconcile.droppedSandboxes).toEqual([gone.key])
      expect(request('tcp', '127.0.0.1', 18095)).toMatch(/^web /u)
      const restored = again.networkByName('web')
      expect(restored?.endpoints().map((e) => e.name)).toEqual(['web1'])
      const s = again.sandboxes().find((x) => x.containerID === 'web1')
      await s?.destroy()
      for (const e of restored?.endpoints() ?? []) await e.delete()
      await restored?.delete()
      expect(again.store.allocations()).toEqual({ ips: [], ports: [] })
      await again.close()
    } finally {
      server.stop()
    }
  })

  it('reconcile in a running controller repairs flushed rules and a deleted, renamed or downed bridge', async () => {
    const c = await createController({ storePath: storePath(), sandboxDir })
    const n = await c.newNetwork(await c.newNetworkDriver('bridge'), 'fix', { addressIPv4: '10.94.0.1/24' })
    const bridge = n.inspect().device ?? ''
    const [s1, s2] = [await c.newSandbox('fix1'), await c.newSandbox('fix2')]
    await n.connect(s1, 'fix1', { portBindings: [{ proto: 'tcp', containerPort: 80, hostPort: 18094 }] })
    await n.connect(s2, 'fix2', {})
    const peer =
      n
        .endpoints()
        .find((e) => e.name === 'fix2')
        ?.inspect().ipv4 ?? ''
    const server = await startServer(80, 'web', s1.key)
    const works = (): boolean => /^web /u.test(request('tcp', '127.0.0.1', 18094) ?? '') && pings(peer, s1.key)
    const bridges = (): string[] =>
      ipJson<{ ifname: string }[]>(['link', 'show', 'type', 'bridge']).map((l) => l.ifname)
    try {
      expect(works()).toBe(true) // the positive control before each fault
      for (const [fault, breakIt] of [
        ['rules deleted', () => run('nft', ['delete', 'table', 'inet', 'cnm'])],
        ['bridge deleted', () => run('ip', ['link', 'del', bridge])],
        ['bridge renamed', () => run('ip', ['link', 'set', bridge, 'down', 'name', 'renamedbr'])],
        ['bridge down', () => run('ip', ['link', 'set', bridge, 'down'])],
      ] as const) {
        breakIt()
        expect(request('tcp', '127.0.0.1', 18094, { timeoutMs: 800 }), fault).toBeUndefined()
        const report = await c.reconcile()
        expect(report.errors, fault).toEqual([])
        if (fault !== 'bridge down') expect(report.rebuiltNetworks, fault).toEqual(['fix'])
        expect(works(), `${fault}: traffic after reconcile`).toBe(true)
        expect(
          bridges().filter((b) => b !== bridge),
          fault,
        ).toEqual([]) // never a second bridge
        expect(await c.reconcile(), `${fault}: a second pass`).toMatchObject({ rebuiltNetworks: [], errors: [] })
      }
    } finally {
      server.stop()
      for (const sb of c.sandboxes()) await sb.destroy()
      await n.delete()
      await c.close()
    }
  })
})
