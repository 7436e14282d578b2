import { type NetnsSnapshot, run, snapshotNetns } from '@cnm/netlink/testing'

/** The firewall backends a kernel test runs against, with an index each (for distinct subnets and ports). */
export const BACKENDS = [
  ['nftables', 0],
  ['iptables', 1],
] as const

type NftItem = Record<string, { family?: string; table?: string; name?: string; elem?: unknown[] }>

/** `nft -j list ruleset`, parsed. */
export function nftItems(): NftItem[] {
  return (JSON.parse(run('nft', ['-j', 'list', 'ruleset']).stdout) as { nftables: NftItem[] }).nftables
}

/** Names of the chains in `table inet cnm` (empty when it does not exist). */
export function nftChains(): string[] {
  return nftItems()
    .filter((i) => i.chain?.table === 'cnm' && i.chain.family === 'inet')
    .map((i) => i.chain?.name ?? '')
}

/** The `-A` lines of `iptables-save` and `ip6tables-save` in `table`. */
export function iptablesLines(table: 'nat' | 'filter'): string[] {
  return ['iptables-save', 'ip6tables-save'].flatMap((cmd) =>
    run(cmd, ['-t', table])
      .stdout.split('\n')
      .filter((l) => l.startsWith('-A ') || l.startsWith(':')),
  )
}

/**
 * The published host ports the kernel holds, as `proto/port` strings, read with nft or
 * iptables-save (never with the package's own parser).
 */
export function kernelPorts(backend: 'nftables' | 'iptables'): string[] {
  if (backend === 'nftables') {
    const out: string[] = []
    for (const item of nftItems()) {
      const map = item.map
      if (map?.table !== 'cnm' || !map.name?.startsWith('dnat')) continue
      for (const e of map.elem ?? []) {
        const raw = (e as unknown[])[0] as { elem?: { val: unknown }; concat?: unknown[] }
        const key = (raw.elem?.val ?? raw) as { concat: unknown[] }
        out.push(`${key.concat[0]}/${key.concat[key.concat.length - 1]}`)
      }
    }
    return out.sort()
  }
  return iptablesLines('nat')
    .filter((l) => l.startsWith('-A CNM-DNAT '))
    .map((l) => `${/-p (\w+)/u.exec(l)?.[1]}/${/--dport (\S+)/u.exec(l)?.[1]}`)
    .sort()
}

/**
 * The firewall's part of {@link snapshotNetns} (nftables, iptables, ip6tables, forwarding sysctls),
 * without packet counters: traffic moves those, and links or addresses are not the firewall's.
 */
export function snapshot(): Pick<NetnsSnapshot, 'nftables' | 'iptables' | 'ip6tables' | 'sysctls'> {
  const s = snapshotNetns()
  return {
    nftables: s.nftables.replace(/counter packets \d+ bytes \d+/gu, 'counter'),
    iptables: s.iptables,
    ip6tables: s.ip6tables,
    sysctls: s.sysctls,
  }
}
