import { readdirSync, statSync } from 'node:fs'
import type { UnheldPortReport } from '@cnm/driverapi'
import type { Core } from './core.js'

/**
 * Whether process `pid` has the file `store` (its device and inode) open: compared by what the
 * descriptors lead to, not by path (a daemon that opened it through a bind mount, or in another
 * mount namespace, names it otherwise).
 */
function hasOpen(pid: number, store: { dev: number; ino: number }): boolean {
  let fds: string[]
  try {
    fds = readdirSync(`/proc/${pid}/fd`)
  } catch {
    return false
  }
  return fds.some((fd) => {
    try {
      const st = statSync(`/proc/${pid}/fd/${fd}`)
      return st.dev === store.dev && st.ino === store.ino
    } catch {
      return false
    }
  })
}

/** What a reconcile says of a published port another program has bound (the holder named). */
function problem(core: Core, u: UnheldPortReport): string {
  const ep = core.endpoints.get(u.endpoint)?.name ?? u.endpoint
  const net = core.networks.get(u.network)?.name ?? u.network
  const who =
    u.holders.length > 0
      ? `${u.holders.map((h) => `pid ${h.pid}${h.command ? ` (${h.command})` : ''}`).join(', ')}, which took it while no cnm process held it`
      : 'a socket of no process found (a kernel socket, or one in another PID namespace)'
  return `published port ${u.port} of endpoint ${ep} (network ${net}) is bound by ${who}: cnm cannot hold it, and its traffic still goes to the container, not to that program; once it is let go, a reconcile holds it again (the daemon, every 10 s)`
}

/**
 * The published ports the drivers could not hold at their restore, as problems for the reconcile
 * report, except those another controller on this same store holds (a process that has the store
 * open: the daemon, or a library user, beside this one-shot process).
 */
export async function unheldPortProblems(core: Core): Promise<string[]> {
  let store: { dev: number; ino: number } | undefined
  try {
    store = core.store.file === false ? undefined : statSync(core.store.file)
  } catch {}
  const out: string[] = []
  for (const driver of core.drivers.values()) {
    let unheld: UnheldPortReport[]
    try {
      unheld = (await driver.persistence?.unheldPorts?.()) ?? []
    } catch (err) {
      out.push(`driver ${driver.name}: cannot tell which published ports are held: ${(err as Error).message}`)
      continue
    }
    for (const u of unheld) {
      const sharing = store
      if (sharing && u.holders.length > 0 && u.holders.every((h) => hasOpen(h.pid, sharing))) continue
      out.push(problem(core, u))
    }
  }
  return out
}
