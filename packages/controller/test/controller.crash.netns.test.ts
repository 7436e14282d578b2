import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createFirewall } from '@cnm/firewall'
import { Agent, describeKernel, ipJson, useHostNetns } from '@cnm/netlink/testing'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createController } from '../src/controller.js'
import { storeKernelDifferences } from './agreement.test-util.js'

const fixture = fileURLToPath(new URL('../test-fixtures/crash-loop.mjs', import.meta.url))
/** Kills in all, aimed at the verbs in turn (2 per verb by default; CI may raise it). */
const KILLS = Number(process.env.CNM_CRASH_KILLS ?? 16)

interface IpLink {
  ifname: string
  group?: string
  linkinfo?: { info_kind?: string }
}

const CNM_LINK_GROUP = String(0x636e6d)

/** What the kernel holds of cnm's, read with `ip` and the firewall's own inventory. */
async function kernelState(): Promise<{ bridges: string[]; veths: string[]; publishedPorts: string[] }> {
  const links = ipJson<IpLink[]>(['-d', 'link', 'show']).filter((l) => l.group === CNM_LINK_GROUP)
  const inventory = await (await createFirewall({ backend: 'nftables' })).inventory()
  return {
    bridges: links.filter((l) => l.linkinfo?.info_kind === 'bridge').map((l) => l.ifname),
    veths: links.filter((l) => l.linkinfo?.info_kind === 'veth').map((l) => l.ifname),
    publishedPorts: inventory.ports.map((p) => `${p.proto}/${p.hostPort}`),
  }
}

/** Every verb the loop marks, in the order it runs them. */
const VERBS = [
  'network-create',
  'network-rm',
  'sandbox-create',
  'connect-publish',
  'join',
  'leave',
  'disconnect-unpublish',
  'sandbox-rm',
] as const
type Verb = (typeof VERBS)[number]

/** How long each verb took when seen whole (its "b" to its "e"), the latest few: where a kill can land. */
const durations = new Map<Verb, number[]>()

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[s.length >> 1] ?? 0
}

/**
 * Runs the loop and kills it inside `target`: when the loop next begins that verb, after a random
 * part of the time the verb took before (its median so far; 20 ms until one was seen). Resolves
 * with the verb the kill landed in (the last begun and not ended), or undefined (between verbs).
 */
function runAndKill(storePath: string, sandboxDir: string, target: Verb): Promise<Verb | undefined> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fixture, storePath, sandboxDir], { stdio: ['ignore', 'pipe', 'pipe'] })
    let err = ''
    let out = ''
    let inside: Verb | undefined
    let began = 0
    let timer: NodeJS.Timeout | undefined
    // Past this, the target never came (a failure): kill anyway, it counts as between verbs.
    const giveUp = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.stderr.on('data', (d) => {
      err += d
    })
    child.stdout.on('data', (d: Buffer) => {
      out += d
      const lines = out.split('\n')
      out = lines.pop() ?? ''
      for (const line of lines) {
        const [m, name] = line.split(' ') as [string, Verb]
        if (m === 'b') {
          inside = name
          began = performance.now()
          if (name === target && !timer) {
            const seen = durations.get(name) ?? []
            const span = seen.length > 0 ? median(seen) : 20
            timer = setTimeout(() => child.kill('SIGKILL'), Math.random() * span * 0.9)
          }
        } else if (m === 'e') {
          const seen = durations.get(name) ?? []
          seen.push(performance.now() - began)
          durations.set(name, seen.slice(-15))
          inside = undefined
        }
      }
    })
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      clearTimeout(giveUp)
      if (signal === 'SIGKILL') resolve(inside)
      else reject(new Error(`crash loop exited ${code}: ${err}`))
    })
  })
}

type Controller = Awaited<ReturnType<typeof createController>>

/** A server in one sandbox, published, reached from another through its gateway: then both go. */
async function expectTraffic(c: Controller): Promise<void> {
  const net = c.networkByName('crash')
  if (!net) return // killed before the network was ever made: nothing to carry traffic yet
  const a = await c.newSandbox('traffic-a')
  const b = await c.newSandbox('traffic-b')
  const agents: Agent[] = []
  try {
    const ep = await net.connect(a, 'traffic-a', { portBindings: [{ proto: 'tcp', containerPort: 80 }] })
    await net.connect(b, 'traffic-b')
    const server = await Agent.start('a', a.key)
    agents.push(server)
    await server.listen('tcp', 80)
    const client = await Agent.start('b', b.key)
    agents.push(client)
    const port = ep.inspect().ports?.[0]?.hostPort ?? 0
    const gw = net.inspect().gateway ?? ''
    expect(await client.connect('tcp', gw, port, 3000), `published port ${port} through ${gw}`).toMatchObject({
      ok: true,
      name: 'a',
    })
  } finally {
    for (const x of agents) await x.stop()
    await a.destroy()
    await b.destroy()
  }
}

describeKernel('controller crash recovery (kernel)', () => {
  const host = useHostNetns()
  let tmp: string
  let sandboxDir: string

  beforeAll(() => {
    tmp = mkdtempSync(path.join(tmpdir(), 'cnm-crash-'))
    sandboxDir = path.join(host.dir, 'sandboxes')
  })
  afterAll(() => {
    rmSync(tmp, { recursive: true, force: true })
    rmSync(sandboxDir, { recursive: true, force: true })
  })

  it(`recovers after ${KILLS} SIGKILLs at random points inside each mutating verb: nothing leaked, nothing held twice, traffic works`, async () => {
    const storePath = path.join(tmp, 'cnm.db')
    const counts = {
      kills: 0,
      removedLinks: 0,
      removedRules: 0,
      removedNamespaces: 0,
      droppedEndpoints: 0,
      droppedSandboxes: 0,
    }
    /** Per verb: kills aimed at it, and how many landed inside it. */
    const landed = Object.fromEntries(VERBS.map((v) => [v, { aimed: 0, inside: 0 }])) as Record<
      Verb,
      { aimed: number; inside: number }
    >
    for (let i = 0; i < KILLS; i++) {
      const target = VERBS[i % VERBS.length] as Verb
      const where = await runAndKill(storePath, sandboxDir, target)
      landed[target].aimed++
      if (where === target) landed[target].inside++
      counts.kills++
      const c = await createController({ storePath, sandboxDir })
      const r = c.lastReconcile
      expect(r.errors, `after a kill in ${where ?? 'no verb'}`).toEqual([]) // allocationProblems too: nothing held twice
      counts.removedLinks += r.removedLinks.length
      counts.removedRules += r.removedFirewallNetworks.length + r.removedFirewallPorts.length
      counts.removedNamespaces += r.removedNamespaces.length
      counts.droppedEndpoints += r.droppedEndpoints.length
      counts.droppedSandboxes += r.droppedSandboxes.length
      expect(storeKernelDifferences(c.store, await kernelState()), `after a kill in ${where ?? 'no verb'}`).toEqual([])
      // Traffic still works after each: a connect with a published port carries a connection.
      await expectTraffic(c)
      // Keep the state bounded: remove what the loop left behind (as a user would).
      for (const sb of c.sandboxes()) await sb.destroy()
      for (const n of c.networks()) for (const e of n.endpoints()) await e.delete()
      for (const n of c.networks().filter((x) => x.name !== 'crash')) await n.delete()
      await c.close()
    }
    const c = await createController({ storePath, sandboxDir })
    for (const n of c.networks()) await n.delete()
    await c.close()
    const perVerb = VERBS.map((v) => `${v} ${landed[v].inside}/${landed[v].aimed}`).join(', ')
    console.log(`crash test: ${JSON.stringify(counts)}; kills inside each verb (landed/aimed): ${perVerb}`)
    expect(counts.kills).toBe(KILLS)
    // Most kills land where they were aimed (inside the verb, not before the loop or between verbs).
    const inside = VERBS.reduce((n, v) => n + landed[v].inside, 0)
    expect(inside, perVerb).toBeGreaterThanOrEqual(Math.ceil(KILLS / 2))
  }, 900_000)
})
