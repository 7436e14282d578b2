import { type ChildProcess, spawn } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createNetns, deleteNetns } from '@cnm/netlink'
import { type HostNetns, run, uniqueName } from '@cnm/netlink/testing'

/** One "host" of the test topology: a namespace on the underlay bridge. */
export interface ClusterHost {
  /** `h1`, `h2`, … */
  name: string
  /** Path of its bound network namespace (run programs in it with `nsenter --net=PATH`). */
  netns: string
  /** Its underlay address (no prefix): the advertise address of a daemon on it. */
  address: string
  /** Its underlay link inside the namespace (`eth0`). */
  link: string
  /** Client URL of the etcd member on it, if it runs one. */
  clientUrl: string | undefined
}

/** A running test cluster: hosts, etcd members on the first ones, and helpers to break it. */
export interface EtcdTestCluster {
  hosts: readonly ClusterHost[]
  /** Client URLs of every member (`http://10.99.0.1:2379`). */
  endpoints: readonly string[]
  /** `etcd://10.99.0.1:2379,…`, as `cnm serve --cluster-store` takes it. */
  storeUrl: string
  /** The underlay bridge in the calling (root test) namespace. */
  bridge: string
  /** The calling namespace's own address on the underlay (the test process reaches members through it). */
  gateway: string
  /** SIGKILLs member `i` (0-based) and waits until it is gone. */
  kill(i: number): Promise<void>
  /** Starts member `i` again on its data and waits until it answers. */
  restart(i: number): Promise<void>
  /** SIGKILLs every member. */
  stopAll(): Promise<void>
  /** Starts every stopped member and waits until the cluster answers. */
  startAll(): Promise<void>
  /** Whether member `i` answers `/health`. */
  healthy(i: number): Promise<boolean>
  /** The last lines of member `i`'s log (for a failing test's message). */
  log(i: number): string
  /** Kills every member, removes the namespaces, links and data; reports every failure. */
  remove(): Promise<void>
}

/** What to build. */
export interface EtcdTestClusterOptions {
  /** The namespace playing the root of the topology (`useHostNetns()` of `@cnm/netlink/testing`). */
  root: HostNetns
  /** etcd members (default 3), on the first hosts. */
  members?: number
  /** Hosts (default `members`); the ones past the members run no etcd. */
  hosts?: number
  /** Underlay /24 as its first three octets (default `10.99.0`). */
  subnet?: string
  /** How long to wait for a member to answer (default 30 s: a loaded 2-core machine). */
  readyTimeoutMs?: number
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) })
    const body = (await res.json()) as { health?: string }
    return body.health === 'true'
  } catch {
    return false
  }
}

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(100)
  }
}

/**
 * Starts an etcd cluster (Debian's `etcd` 3.4) on throwaway "hosts": network namespaces joined by
 * an underlay bridge in the calling test's own namespace (`root`), one member per host, data under
 * a fresh temporary directory. Needs root (it is for `*.netns.test.ts` files). Call `remove()` in
 * `afterAll`.
 */
export async function startEtcdCluster(options: EtcdTestClusterOptions): Promise<EtcdTestCluster> {
  const members = options.members ?? 3
  const hostCount = Math.max(options.hosts ?? members, members)
  const net = options.subnet ?? '10.99.0'
  const readyMs = options.readyTimeoutMs ?? 30_000
  const undo: (() => void | Promise<void>)[] = []
  const dir = mkdtempSync(path.join(tmpdir(), 'cnm-etcd-'))
  undo.push(() => rmSync(dir, { recursive: true, force: true }))
  const procs: (ChildProcess | undefined)[] = []
  const removeAll = async (): Promise<void> => {
    const errors: unknown[] = []
    for (const step of undo.reverse()) {
      try {
        await step()
      } catch (err) {
        errors.push(err)
      }
    }
    undo.length = 0
    if (errors.length > 0) throw new AggregateError(errors, 'etcd test cluster teardown failed')
  }
  try {
    const bridge = uniqueName('ul')
    run('ip', ['link', 'add', bridge, 'type', 'bridge'])
    undo.push(() => void run('ip', ['link', 'del', bridge], { check: false }))
    const gateway = `${net}.254`
    run('ip', ['addr', 'add', `${gateway}/24`, 'dev', bridge])
    run('ip', ['link', 'set', bridge, 'up'])
    const hosts: ClusterHost[] = []
    for (let i = 0; i < hostCount; i++) {
      const name = `h${i + 1}`
      const netns = options.root.netnsPath(name)
      await createNetns(netns)
      undo.push(() => deleteNetns(netns))
      const veth = uniqueName('ul')
      run('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns])
      undo.push(() => void run('ip', ['link', 'del', veth], { check: false }))
      run('ip', ['link', 'set', veth, 'master', bridge, 'up'])
      const address = `${net}.${i + 1}`
      run('ip', ['addr', 'add', `${address}/24`, 'dev', 'eth0'], { netns })
      run('ip', ['link', 'set', 'eth0', 'up'], { netns })
      run('ip', ['link', 'set', 'lo', 'up'], { netns })
      run('ip', ['route', 'add', 'default', 'via', gateway], { netns })
      hosts.push({ name, netns, address, link: 'eth0', clientUrl: i < members ? `http://${address}:2379` : undefined })
    }
    const memberHosts = hosts.slice(0, members)
    const initialCluster = memberHosts.map((h) => `${h.name}=http://${h.address}:2380`).join(',')
    const token = uniqueName('etcd')
    const logPath = (i: number): string => path.join(dir, `${memberHosts[i]?.name}.log`)
    const start = (i: number): void => {
      const h = memberHosts[i]
      if (!h) throw new Error(`no etcd member ${i}`)
      if (procs[i]) return
      const fd = openSync(logPath(i), 'a')
      const child = spawn(
        'nsenter',
        [
          `--net=${h.netns}`,
          '--',
          'etcd',
          `--name=${h.name}`,
          `--data-dir=${path.join(dir, h.name)}`,
          `--listen-client-urls=http://${h.address}:2379,http://127.0.0.1:2379`,
          `--advertise-client-urls=http://${h.address}:2379`,
          `--listen-peer-urls=http://${h.address}:2380`,
          `--initial-advertise-peer-urls=http://${h.address}:2380`,
          `--initial-cluster=${initialCluster}`,
          '--initial-cluster-state=new',
          `--initial-cluster-token=${token}`,
          '--heartbeat-interval=100',
          '--election-timeout=1000',
          '--logger=zap',
        ],
        { stdio: ['ignore', fd, fd] },
      )
      closeSync(fd)
      procs[i] = child
      child.once('exit', () => {
        if (procs[i] === child) procs[i] = undefined
      })
    }
    const kill = async (i: number): Promise<void> => {
      const child = procs[i]
      if (!child) return
      const exited = new Promise<void>((r) => child.once('exit', () => r()))
      child.kill('SIGKILL')
      await exited
    }
    undo.push(async () => {
      for (let i = 0; i < members; i++) await kill(i)
    })
    const url = (i: number): string => memberHosts[i]?.clientUrl ?? ''
    const startAll = async (): Promise<void> => {
      for (let i = 0; i < members; i++) start(i)
      for (let i = 0; i < members; i++) await waitFor(`etcd member ${url(i)}`, readyMs, () => answers(url(i)))
    }
    await startAll()
    const endpoints = memberHosts.map((h) => h.clientUrl ?? '')
    return {
      hosts,
      endpoints,
      storeUrl: `etcd://${memberHosts.map((h) => `${h.address}:2379`).join(',')}`,
      bridge,
      gateway,
      kill,
      restart: async (i) => {
        start(i)
        await waitFor(`etcd member ${url(i)}`, readyMs, () => answers(url(i)))
      },
      stopAll: async () => {
        for (let i = 0; i < members; i++) await kill(i)
      },
      startAll,
      healthy: (i) => answers(url(i)),
      log: (i) => {
        try {
          return readFileSync(logPath(i), 'utf8').split('\n').slice(-30).join('\n')
        } catch {
          return ''
        }
      },
      remove: removeAll,
    }
  } catch (err) {
    await removeAll().catch(() => undefined)
    throw err
  }
}
