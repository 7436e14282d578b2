import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createFirewall } from '@cnm/firewall'
import { describeKernel, ipJson, useHostNetns } from '@cnm/netlink/testing'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createController } from '../src/controller.js'
import { storeKernelDifferences } from './agreement.test-util.js'

const fixture = fileURLToPath(new URL('../test-fixtures/crash-loop.mjs', import.meta.url))
const KILLS = Number(process.env.CNM_CRASH_KILLS ?? 50)

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

function runAndKill(storePath: string, sandboxDir: string, afterMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fixture, storePath, sandboxDir], { stdio: ['ignore', 'pipe', 'pipe'] })
    let err = ''
    child.stderr.on('data', (d) => {
      err += d
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), afterMs)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      if (signal === 'SIGKILL') resolve()
      else reject(new Error(`crash loop exited ${code}: ${err}`))
    })
  })
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

  it(`recovers after ${KILLS} SIGKILLs at random moments: nothing leaked, nothing held twice`, async () => {
    const storePath = path.join(tmp, 'cnm.db')
    const counts = {
      kills: 0,
      removedLinks: 0,
      removedRules: 0,
      removedNamespaces: 0,
      droppedEndpoints: 0,
      droppedSandboxes: 0,
    }
    for (let i = 0; i < KILLS; i++) {
      await runAndKill(storePath, sandboxDir, 150 + Math.floor(Math.random() * 450))
      counts.kills++
      const c = await createController({ storePath, sandboxDir })
      const r = c.lastReconcile
      expect(r.errors).toEqual([])
      counts.removedLinks += r.removedLinks.length
      counts.removedRules += r.removedFirewallNetworks.length + r.removedFirewallPorts.length
      counts.removedNamespaces += r.removedNamespaces.length
      counts.droppedEndpoints += r.droppedEndpoints.length
      counts.droppedSandboxes += r.droppedSandboxes.length
      expect(storeKernelDifferences(c.store, await kernelState())).toEqual([])
      // Keep the state bounded: remove what the loop left behind (as a user would).
      for (const sb of c.sandboxes()) await sb.destroy()
      for (const n of c.networks()) for (const e of n.endpoints()) await e.delete()
      await c.close()
    }
    const c = await createController({ storePath, sandboxDir })
    for (const n of c.networks()) await n.delete()
    await c.close()
    console.log(`crash test: ${JSON.stringify(counts)}`)
    expect(counts.kills).toBe(KILLS)
  }, 600_000)
})
