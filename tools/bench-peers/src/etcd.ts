// An etcd cluster for a benchmark: members on the caller's loopback (the caller runs in a throwaway
// network namespace), data in the caller's directory, ready once every member reports healthy.
import { type ChildProcess, spawn } from 'node:child_process'
import path from 'node:path'
import { which } from './run.js'

export interface EtcdMember {
  readonly name: string
  /** Its client port on 127.0.0.1. */
  readonly client: number
  /** Its peer port on 127.0.0.1. */
  readonly peer: number
}

export interface EtcdClusterOptions {
  /** Where the members keep their data (`<dataDir>/<member>`); the caller removes it. */
  dataDir: string
  /** Members (default 3). */
  size?: number
  /** The first member's client port (default 23790); the others follow. */
  clientPortBase?: number
  /** The first member's peer port (default 23890); the others follow. */
  peerPortBase?: number
  /** How long the members may take to become healthy (default 60 s). */
  timeoutMs?: number
}

export interface EtcdCluster {
  readonly members: readonly EtcdMember[]
  /** Each member's process id (for CPU time and memory from `/proc`). */
  readonly pids: readonly number[]
  /** `http://127.0.0.1:<client>` of each member. */
  readonly endpoints: readonly string[]
  /** `etcd://127.0.0.1:<client>,…`: cnm's `--store` for this cluster. */
  readonly store: string
  /** Kills every member (SIGKILL: its data is thrown away) and waits for them to exit. */
  stop(): Promise<void>
}

/** The members a cluster of `size` has (names `m0`…, consecutive ports): what clients connect to. */
export function etcdMembers(size = 3, clientPortBase = 23790, peerPortBase = 23890): EtcdMember[] {
  return Array.from({ length: size }, (_, i) => ({ name: `m${i}`, client: clientPortBase + i, peer: peerPortBase + i }))
}

async function healthy(m: EtcdMember): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${m.client}/health`, { signal: AbortSignal.timeout(2000) })
    return ((await res.json()) as { health?: string }).health === 'true'
  } catch {
    return false
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => child.once('exit', () => resolve()))
}

/**
 * Starts a new etcd cluster (Debian's `etcd-server`) on 127.0.0.1 and resolves once every member
 * is healthy; on failure every member started is killed before the error is thrown.
 */
export async function startEtcdCluster(options: EtcdClusterOptions): Promise<EtcdCluster> {
  const { dataDir, size = 3, clientPortBase = 23790, peerPortBase = 23890, timeoutMs = 60_000 } = options
  const etcd = which('etcd')
  if (!etcd) throw new Error('etcd is not installed (etcd-server: scripts/setup.sh)')
  const members = etcdMembers(size, clientPortBase, peerPortBase)
  const initial = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',')
  const procs: ChildProcess[] = []
  const stop = async (): Promise<void> => {
    for (const p of procs) p.kill('SIGKILL')
    await Promise.all(procs.map(exited))
  }
  try {
    for (const m of members) {
      const child = spawn(
        etcd,
        [
          `--name=${m.name}`,
          `--data-dir=${path.join(dataDir, m.name)}`,
          `--listen-client-urls=http://127.0.0.1:${m.client}`,
          `--advertise-client-urls=http://127.0.0.1:${m.client}`,
          `--listen-peer-urls=http://127.0.0.1:${m.peer}`,
          `--initial-advertise-peer-urls=http://127.0.0.1:${m.peer}`,
          `--initial-cluster=${initial}`,
          '--initial-cluster-state=new',
          '--log-level=error',
          '--logger=zap',
        ],
        { stdio: 'ignore' },
      )
      procs.push(child)
      child.once('error', () => undefined) // reported below as "exited" or "not healthy"
    }
    const end = Date.now() + timeoutMs
    for (const m of members) {
      while (!(await healthy(m))) {
        const dead = procs.find((p) => p.exitCode !== null || p.signalCode !== null)
        if (dead) throw new Error(`etcd member exited (${dead.exitCode ?? dead.signalCode}) before the cluster was up`)
        if (Date.now() > end) throw new Error(`etcd ${m.name} not healthy after ${timeoutMs} ms`)
        await new Promise((r) => setTimeout(r, 100))
      }
    }
  } catch (err) {
    await stop()
    throw err
  }
  return {
    members,
    pids: procs.map((p) => p.pid ?? -1),
    endpoints: members.map((m) => `http://127.0.0.1:${m.client}`),
    store: `etcd://${members.map((m) => `127.0.0.1:${m.client}`).join(',')}`,
    stop,
  }
}
