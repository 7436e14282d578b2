import { rmSync } from 'node:fs'
import path from 'node:path'
import { createController, DEFAULT_STORE_PATH, type Network } from '@cnm/controller'
import { type Handle, openHandle } from '@cnm/netlink'
import { DEFAULT_SANDBOX_DIR } from '@cnm/sandbox'
import { type Output, processOutput } from '../output.js'
import { formatPortBinding } from '../publish-spec.js'
import type { CheckResult } from './checks.js'
import { type HostAddress, hostAddress } from './host-address.js'
import { enterThrowawayNamespace } from './namespace.js'
import { runChecks } from './run-checks.js'
import { createRunner, type Runner } from './runner.js'
import { type DemoBox, setUpDemo } from './setup.js'
import { renderTopology, type TopologyBox } from './topology.js'

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Run in the caller's namespace, on `store` and `sandboxDir`, instead of a throwaway namespace. */
  inPlace?: boolean
  /** The store for `inPlace` (the throwaway run keeps its store in memory). */
  store?: string
  /** The sandbox directory for `inPlace` (the throwaway run uses `/run/cnm-demo-<pid>/netns`). */
  sandboxDir?: string
  /** The host port to publish on (default: any free one). */
  hostPort?: number
  output?: Output
}

/** What the demo found. */
export interface DemoResult {
  ok: boolean
  checks: CheckResult[]
  /** Cleanup steps that failed (every one was still tried). */
  cleanupErrors: string[]
}

async function topologyBox(host: Handle, box: DemoBox, note: string): Promise<TopologyBox> {
  const link = (await host.listLinks()).find((l) => l.alias?.endsWith(`:${box.endpoint.id}`))
  return { name: box.name, hostVeth: link?.name ?? '?', iface: 'eth0', ip: box.ip, note }
}

async function picture(
  io: Output,
  host: Handle,
  addr: HostAddress,
  demo: { network: Network; web: DemoBox; client: DemoBox },
  inPlace: boolean,
): Promise<number> {
  const info = demo.network.inspect()
  const published = demo.web.endpoint.inspect().ports[0]
  if (!published) throw new Error(`endpoint ${demo.web.name} has no published port`)
  io.out('\ntopology\n')
  io.out(
    renderTopology({
      host: inPlace ? 'this machine (--in-place)' : 'a throwaway network namespace playing the host',
      hostLink: addr.link,
      hostAddress: addr.address,
      published: formatPortBinding(published).replace('->', ` -> ${published.containerIP}:`),
      network: info.name,
      bridge: info.device ?? '?',
      gateway: `${info.gateway}/${info.subnet?.split('/')[1] ?? ''}`,
      boxes: [
        await topologyBox(host, demo.web, 'http :80 (published)'),
        await topologyBox(host, demo.client, 'http :80'),
      ],
    }),
  )
  return published.hostPort
}

async function demo(r: Runner, options: DemoOptions, sandboxDir: string): Promise<CheckResult[]> {
  const inPlace = options.inPlace === true
  const host = await openHandle()
  r.undo('close the netlink handle', () => host.close())
  const addr = await r.step('host address', () => hostAddress(host, inPlace))
  if (addr.created) r.undo(`delete link ${addr.link} (the host address)`, () => addr.remove())
  const controller = await createController({
    storePath: inPlace ? (options.store ?? DEFAULT_STORE_PATH) : false,
    sandboxDir,
  })
  r.undo('close the controller', () => controller.close())
  const suffix = inPlace ? `-${process.pid}` : ''
  const names = { network: `demo${suffix}`, web: `web${suffix}`, client: `client${suffix}` }
  const made = await setUpDemo(r, controller, names, options.hostPort)
  const hostPort = await picture(r.io, host, addr, made, inPlace)
  return runChecks(r.io, () => r.checkInterrupt(), {
    web: { name: made.web.name, key: made.web.sandbox.key, ip: made.web.ip },
    client: { name: made.client.name, key: made.client.sandbox.key, ip: made.client.ip },
    hostAddress: addr.address,
    hostPort,
  })
}

/**
 * The demo: a bridge network, two sandboxes each running a tiny HTTP server, one published on a
 * host port; then real traffic (ping and HTTP between the sandboxes, HTTP from the host through the
 * published port by the host's address and 127.0.0.1, hairpin); then everything is removed. By
 * default it all happens in a throwaway network namespace that plays the host (root needed).
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const io = options.output ?? processOutput
  const inPlace = options.inPlace === true
  const demoDir = inPlace ? undefined : `/run/cnm-demo-${process.pid}`
  const leave = inPlace ? undefined : await enterThrowawayNamespace()
  io.out(
    inPlace
      ? 'cnm demo, in place: in this network namespace, on the store\n\nsetup\n'
      : 'cnm demo: in a throwaway network namespace playing the host; this machine is left untouched\n\nsetup\n',
  )
  const r = createRunner(io)
  let checks: CheckResult[] = []
  let cleanupErrors: string[] = []
  try {
    checks = await demo(r, options, demoDir ? path.join(demoDir, 'netns') : (options.sandboxDir ?? DEFAULT_SANDBOX_DIR))
  } finally {
    cleanupErrors = await r.cleanup()
    leave?.()
    if (demoDir) rmSync(demoDir, { recursive: true, force: true })
  }
  const passed = checks.filter((c) => c.ok).length
  io.out(`\n${passed}/${checks.length} checks passed\n`)
  return { ok: passed === checks.length && cleanupErrors.length === 0, checks, cleanupErrors }
}
