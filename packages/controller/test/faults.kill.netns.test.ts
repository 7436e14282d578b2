import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Agent, describeKernel, pings, useHostNetns } from '@cnm/netlink/testing'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createController } from '../src/controller.js'
import { differences, leftovers, removeTree, settle, summary, tryRemove } from './faults.test-util.js'

/**
 * SIGKILL at random points of every mutating verb (issue 21, item 6 and the fault suite): a process
 * loops one verb and its inverse on a store (`test-fixtures/verb-loop.mjs`), is killed after a
 * random delay, and a new controller opens the store; the next kill takes the next verb, on the same
 * store (what one left behind, the next meets). Its start-up must repair whatever the kill
 * left (no errors), after which the kernel and the store agree, nothing is held twice, nothing
 * leaked, and a connect with a published port still carries traffic.
 */

const fixture = fileURLToPath(new URL('../test-fixtures/verb-loop.mjs', import.meta.url))
/** Kills in all, taking the verbs in turn (CI may raise it). */
const KILLS = Number(process.env.CNM_FAULT_KILLS ?? 12)
/** Kills land up to this long after the fixture is set up (a verb takes ~5-40 ms here). */
const WINDOW_MS = Number(process.env.CNM_FAULT_KILL_WINDOW_MS ?? 80)
const ALL_VERBS = ['network', 'sandbox', 'connect', 'endpoint', 'join', 'sandbox-rm'] as const
/** The verbs to kill inside (all, unless CNM_FAULT_VERBS names some, comma-separated). */
const VERBS = ALL_VERBS.filter((v) => (process.env.CNM_FAULT_VERBS ?? v).split(',').includes(v))

/** Runs the loop, kills it `delayMs` after it is ready; resolves whether the kill landed inside a verb. */
function runAndKill(storePath: string, sandboxDir: string, verb: string, delayMs: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fixture, storePath, sandboxDir, verb], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    let timer: NodeJS.Timeout | undefined
    child.stdout.on('data', (b: Buffer) => {
      out += b
      if (!timer && out.includes('ready\n')) timer = setTimeout(() => child.kill('SIGKILL'), delayMs)
    })
    child.stderr.on('data', (b: Buffer) => {
      err += b
    })
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      const marks = out.trim().split('\n')
      if (signal === 'SIGKILL') resolve(marks.at(-1) === 'b')
      else reject(new Error(`verb loop ${verb} exited ${code}: ${err}`))
    })
  })
}

describeKernel('fault suite: SIGKILL inside every mutating verb (kernel)', () => {
  const host = useHostNetns()
  let tmp: string
  let sandboxDir: string

  beforeAll(() => {
    tmp = mkdtempSync(path.join(tmpdir(), 'cnm-faults-kill-'))
    sandboxDir = path.join(host.dir, 'sandboxes')
  })
  afterAll(() => {
    removeTree(tmp)
    tryRemove(sandboxDir)
  })

  /** A connect with a published port carries traffic after the kills (and goes again). */
  async function trafficWorks(storePath: string): Promise<void> {
    const verb = 'after the kills'
    const c = await createController({ storePath, sandboxDir })
    const net = c.networkByName('kill')
    if (!net) throw new Error('network kill is gone')
    const [a, b] = [await c.newSandbox('t-a'), await c.newSandbox('t-b')]
    const port = { portBindings: [{ proto: 'tcp', containerPort: 80 }] }
    const ea = await net.connect(a, 'traffic-a', port)
    await net.connect(b, 'traffic-b')
    const server = await Agent.start('a', a.key)
    const client = await Agent.start('b', b.key)
    const local = await Agent.start('host')
    try {
      await server.listen('tcp', 80)
      const ip = ea.inspect().ipv4 ?? ''
      const hostPort = ea.inspect().ports[0]?.hostPort ?? 0
      expect(await client.connect('tcp', ip, 80), `${verb}: sandbox to sandbox`).toMatchObject({ ok: true, name: 'a' })
      expect(await local.connect('tcp', '127.0.0.1', hostPort), `${verb}: published port`).toMatchObject({
        ok: true,
        name: 'a',
      })
      expect(pings(ip, b.key), `${verb}: ping`).toBe(true)
    } finally {
      for (const agent of [server, client, local]) await agent.stop()
      await a.destroy()
      await b.destroy()
      await c.close()
    }
  }

  it(`${KILLS} SIGKILLs at random moments, taking the verbs in turn: each repaired on restart, nothing leaked`, async () => {
    const storePath = path.join(tmp, 'kill.db')
    const counts = new Map<
      string,
      { injected: number; insideVerb: number; repaired: number; repairs: number; leaks: number }
    >(VERBS.map((v) => [v, { injected: 0, insideVerb: 0, repaired: 0, repairs: 0, leaks: 0 }]))
    try {
      for (let k = 0; k < KILLS; k++) {
        const verb = VERBS[k % VERBS.length] ?? 'connect'
        const n = counts.get(verb) ?? { injected: 0, insideVerb: 0, repaired: 0, repairs: 0, leaks: 0 }
        const inside = await runAndKill(storePath, sandboxDir, verb, Math.floor(Math.random() * WINDOW_MS))
        n.injected++
        if (inside) n.insideVerb++
        const c = await createController({ storePath, sandboxDir })
        try {
          const r = c.lastReconcile
          expect(r.errors, `${verb} kill ${k}`).toEqual([])
          n.repairs +=
            r.rebuiltNetworks.length +
            r.droppedEndpoints.length +
            r.droppedSandboxes.length +
            r.removedLinks.length +
            r.removedFirewallNetworks.length +
            r.removedFirewallPorts.length +
            r.removedNamespaces.length
          // A namespace's veths go shortly after it does: allow the kernel a moment.
          const problems = await settle(() => differences(c.store, sandboxDir))
          n.leaks += problems.length
          expect(problems, `${verb} kill ${k}: kernel and store agree`).toEqual([])
          n.repaired++
        } finally {
          await c.close()
        }
      }
      await trafficWorks(storePath)
    } finally {
      for (const [verb, n] of counts) if (n.injected > 0) console.log(summary(`SIGKILL in ${verb}`, n))
    }
    // Remove everything, then nothing may be left.
    const c = await createController({ storePath, sandboxDir })
    for (const sb of c.sandboxes()) await sb.destroy()
    for (const n of c.networks()) {
      for (const e of n.endpoints()) await e.delete()
      await n.delete()
    }
    expect(differences(c.store, sandboxDir)).toEqual([])
    await c.close()
    expect(await settle(() => leftovers(sandboxDir))).toEqual([])
    const total = [...counts.values()].reduce((t, n) => t + n.repaired, 0)
    expect(total).toBe(KILLS)
  }, 300_000)
})
