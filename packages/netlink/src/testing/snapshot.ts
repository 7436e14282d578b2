import { readFileSync } from 'node:fs'
import { hasProgram, run } from './run.js'

/** What a network namespace holds that a test could change, in a comparable form. */
export interface NetnsSnapshot {
  links: string[]
  addresses: string[]
  routes: string[]
  nftables: string
  iptables: string
  ip6tables: string
  sysctls: Record<string, string>
}

const SYSCTLS = [
  'net/ipv4/ip_forward',
  'net/ipv4/conf/all/forwarding',
  'net/ipv4/conf/all/route_localnet',
  'net/ipv6/conf/all/forwarding',
  'net/ipv4/ip_local_port_range',
]

function ipLines(args: string[], pick: (o: Record<string, unknown>) => string): string[] {
  const { stdout } = run('ip', ['-j', ...args])
  const list = JSON.parse(stdout.trim() || '[]') as Record<string, unknown>[]
  return list.map(pick).sort()
}

function optional(cmd: string, args: string[]): string {
  if (!hasProgram(cmd)) return `(${cmd} not installed)`
  return run(cmd, args).stdout
}

/** `iptables-save` without comments and counters, so two reads of an unchanged table are equal. */
function rulesText(cmd: string): string {
  return optional(cmd, [])
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .map((l) => l.replace(/\s\[\d+:\d+\]$/u, ''))
    .join('\n')
}

/** Reads the state of the calling thread's network namespace with tools that are not ours. */
export function snapshotNetns(): NetnsSnapshot {
  const sysctls: Record<string, string> = {}
  for (const key of SYSCTLS) {
    try {
      // Synchronous on purpose: /proc/sys/net answers for the namespace of the reading thread.
      sysctls[key] = readFileSync(`/proc/sys/${key}`, 'utf8').trim()
    } catch {
      sysctls[key] = '(unreadable)'
    }
  }
  return {
    links: ipLines(
      ['link', 'show'],
      (l) => `${l.ifname} ${l.link_type} ${l.address ?? ''} mtu ${l.mtu} master ${l.master ?? '-'}`,
    ),
    addresses: ipLines(
      ['addr', 'show'],
      (l) =>
        `${l.ifname}: ${((l.addr_info as { local: string; prefixlen: number }[]) ?? []).map((a) => `${a.local}/${a.prefixlen}`).join(' ')}`,
    ),
    routes: ipLines(['route', 'show', 'table', 'all'], (r) => JSON.stringify(r)),
    nftables: optional('nft', ['list', 'ruleset']),
    iptables: rulesText('iptables-save'),
    ip6tables: rulesText('ip6tables-save'),
    sysctls,
  }
}

/** Human-readable differences between two snapshots (empty when equal). */
export function diffSnapshots(before: NetnsSnapshot, after: NetnsSnapshot): string[] {
  const out: string[] = []
  for (const key of Object.keys(before) as (keyof NetnsSnapshot)[]) {
    const a = JSON.stringify(before[key])
    const b = JSON.stringify(after[key])
    if (a !== b) out.push(`${key} changed:\n  before: ${a}\n  after:  ${b}`)
  }
  return out
}

/** Paths of the network namespaces bound anywhere (nsfs mounts), from /proc/self/mountinfo. */
export function boundNetnsPaths(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(' - nsfs '))
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p.length > 0)
    .sort()
}
