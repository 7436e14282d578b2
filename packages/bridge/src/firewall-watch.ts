import { existsSync } from 'node:fs'
import { describeMapping, type Firewall, type FirewallDamage, type NetworkRules, type PortMapping } from '@cnm/firewall'
import { type NftChange, watchNftables } from '@cnm/netlink'
import type { NetworkState } from './resources.js'
import { networkRules } from './steps/setup-firewall.js'

/** What the driver holds, as the firewall's `repair` takes it. */
export interface HeldRules {
  networks: NetworkRules[]
  ports: PortMapping[]
}

/** The rules of the networks whose firewall rules the driver wrote, and of their endpoints' published ports. */
export function heldRules(networks: Iterable<NetworkState>): HeldRules {
  const held: HeldRules = { networks: [], ports: [] }
  for (const net of networks) {
    if (!net.firewallProgrammed) continue
    held.networks.push(networkRules({ net }))
    for (const ep of net.endpoints.values()) {
      for (const p of ep.ports) held.ports.push({ ...p, bridge: net.bridgeName })
    }
  }
  return held
}

/**
 * What a repair found missing, in one line (`table inet cnm missing; network br-1a2b (all of it);
 * 2 published ports (tcp 0.0.0.0:8080 -> 10.1.0.2:80, tcp 0.0.0.0:8443 -> 10.1.0.2:443)`), at most
 * three items of each kind named; empty when nothing was.
 */
export function describeDamage(damage: FirewallDamage): string {
  const some = (items: string[]): string =>
    items.length > 3 ? `${items.slice(0, 3).join(', ')} and ${items.length - 3} more` : items.join(', ')
  const parts: string[] = []
  if (damage.skeleton.length > 0) parts.push(some(damage.skeleton))
  const nets = damage.networks.map((n) => `${n.bridge} (${some(n.missing)})`)
  if (nets.length > 0) parts.push(`network${nets.length > 1 ? 's' : ''} ${some(nets)}`)
  const ports = damage.ports.map(describeMapping)
  if (ports.length > 0) parts.push(`${ports.length} published port${ports.length > 1 ? 's' : ''} (${some(ports)})`)
  return parts.join('; ')
}

/** Options of {@link watchFirewall}. */
export interface FirewallWatchOptions {
  firewall: Firewall
  /** What the driver holds now (read when a repair runs). */
  held: () => HeldRules
  /** Runs the repair with the driver's other verbs (one at a time). */
  serial: <T>(fn: () => Promise<T>) => Promise<T>
  /** What was found missing and put back, or why a repair failed. */
  onRepair?: (damage: FirewallDamage | undefined, err?: unknown) => void
  /** Coalesces a burst of changes (a firewall reload is several transactions) into one repair. Default 20 ms. */
  delayMs?: number
  /**
   * Also check after another program adds to iptables-nft's filter tables (dockerd marking a bridge
   * of its own). Default true.
   */
  dockerMarks?: boolean
}

/** Tables whose loss costs the driver rules: cnm's own, and those iptables-nft keeps the iptables backend's chains in. */
const WATCHED = /^(?:inet cnm|ip nat|ip filter|ip raw|ip6 nat|ip6 filter|ip6 raw)$/u

/**
 * Whether `pid` (a thread id, as nf_tables reports it: libnftables commits on pool threads) is a
 * thread of this process now. Asked of the kernel each time, not remembered: a thread id seen once
 * could later be another process's (`nft`'s) once that thread is gone, and its flush be taken for
 * the driver's own.
 */
function isOwnThread(pid: number): boolean {
  return pid === process.pid || existsSync(`/proc/self/task/${pid}`)
}

/**
 * The tables where another program's additions ask for a check too: dockerd marks each bridge of
 * its own there (`-o br-… -j DOCKER`), and cnm's rules must then hand that bridge's traffic back to
 * Docker's (@cnm/firewall's "Docker's bridges").
 */
const MARKED = /^(?:ip filter|ip6 filter)$/u

/**
 * Whether a committed change may have taken some of the driver's rules, or marked a bridge of
 * Docker's that they must now leave alone.
 */
export function mayHaveTakenRules(
  change: NftChange,
  own: (pid: number) => boolean = isOwnThread,
  dockerMarks = true,
): boolean {
  if (change.overrun) return true
  const watched =
    change.deleted.some((table) => WATCHED.test(table)) || (dockerMarks && change.added.some((t) => MARKED.test(t)))
  if (!watched) return false
  // This process's own transactions (libnftables runs in process) are the driver's own doing.
  return change.pid === undefined || !own(change.pid)
}

/**
 * Puts the driver's firewall rules back when someone else takes them (`nft flush ruleset`, a
 * firewalld reload, a table or chain deleted or flushed): nf_tables announces every committed
 * transaction on a netlink multicast group; one that deleted from cnm's tables (and was not this
 * process's) is followed, after `delayMs`, by one `repair` of what the driver holds — which looks
 * at the kernel and writes only what is missing. Nothing is polled, and the driver's own changes
 * cost nothing here.
 */
export function watchFirewall(options: FirewallWatchOptions): { close(): void } {
  const delay = options.delayMs ?? 20
  let timer: NodeJS.Timeout | undefined
  let closed = false
  const repair = async (): Promise<void> => {
    timer = undefined
    if (closed) return
    try {
      const damage = await options.serial(async () => {
        const held = options.held()
        if (held.networks.length === 0 && held.ports.length === 0) return undefined
        return options.firewall.repair(held)
      })
      if (damage) options.onRepair?.(damage)
    } catch (err) {
      options.onRepair?.(undefined, err)
    }
  }
  const watch = watchNftables((change) => {
    if (closed || !mayHaveTakenRules(change, isOwnThread, options.dockerMarks ?? true)) return
    options.firewall.kernelChanged() // a batch's earlier read of the rules is stale from now on
    if (timer) return
    timer = setTimeout(() => void repair(), delay)
  })
  return {
    close() {
      closed = true
      if (timer) clearTimeout(timer)
      watch.close()
    },
  }
}
