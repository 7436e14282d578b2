import type { Backend } from './backend.js'
import { commandError } from './command-error.js'
import {
  type HostForwardChain,
  hostAcceptLines,
  hostFlushLines,
  hostMissing,
  hostObjects,
  hostRemoveLines,
  parseForwardChains,
  readHostTable,
  type ScriptLine,
} from './host-forward.js'
import { runNftInProcess } from './nft-lib.js'
import { NFT_FAMILY, NFT_TABLE, type NftScript, renderNftScript } from './nft-script.js'
import { type ExecResult, runProgram } from './run-program.js'

/** What the nftables backend lends: its `nft` runner and its one-transaction `apply`. */
export interface NftTools {
  nft(args: readonly string[], input?: string): Promise<ExecResult>
  apply(what: string, s: NftScript): Promise<void>
}

/** `nft` in process (libnftables) or spawned, and one-transaction scripts: for the iptables backend. */
export const nftTools: NftTools = {
  nft: async (args, input) => runNftInProcess(args, input) ?? runProgram('nft', args, input),
  async apply(what, s) {
    if (s.lines.length === 0) return
    const res = await nftTools.nft(['-f', '-'], renderNftScript(s))
    if (res.status !== 0 || res.error) throw commandError(what, 'nft', res, (line) => s.about.get(line))
  },
}

/** Which host tables to leave alone, and whether a missing `nft` means "none to live beside". */
export interface HostForwardOptions {
  skip?: readonly string[]
  optional?: boolean
}

function toScript(lines: readonly ScriptLine[]): NftScript {
  const s: NftScript = { lines: [], about: new Map() }
  for (const [line, about] of lines) {
    s.lines.push(line)
    if (about !== undefined) s.about.set(s.lines.length, about)
  }
  return s
}

/** Lines once each (several networks add the same `add chain` and jump). */
function dedupe(lines: ScriptLine[]): ScriptLine[] {
  const seen = new Set<string>()
  return lines.filter(([line]) => {
    if (seen.has(line)) return false
    seen.add(line)
    return true
  })
}

/** The filter chains of other tables on the forward hook (but `skip`'s), with what cnm keeps there. */
export async function readHostForward(
  tools: Pick<NftTools, 'nft'>,
  skip: readonly string[] = [`${NFT_FAMILY} ${NFT_TABLE}`],
  optional = false,
): Promise<HostForwardChain[]> {
  const res = await tools.nft(['-j', 'list', 'chains'])
  // The iptables backend where `nft` is not installed: no nftables table to live beside.
  if (optional && res.error) return []
  if (res.status !== 0 || res.error) throw commandError('list chains', 'nft', res)
  const chains = parseForwardChains(res.stdout, skip)
  const tables = new Map<string, HostForwardChain[]>()
  for (const h of chains) {
    const key = `${h.family} ${h.table}`
    tables.set(key, [...(tables.get(key) ?? []), h])
  }
  for (const [key, group] of tables) {
    const [family = '', table = ''] = key.split(' ')
    const t = await tools.nft(['-j', 'list', 'table', family, table])
    // Deleted meanwhile: nothing of it to keep.
    if (t.status !== 0 || t.error) {
      for (const h of group) chains.splice(chains.indexOf(h), 1)
      continue
    }
    readHostTable(group, t.stdout)
  }
  return chains
}

/**
 * Adds the host's forward chains to the nftables backend: `addNetwork` lets the bridge's traffic
 * through every other table's filter chain on the forward hook (`CNM-ACCEPT`, jumped to first),
 * `deleteNetwork` takes its accept rules out again, `flush` removes the jumps and chains, and
 * `inventory`/`verify` list them and report what a network lacks there (a host firewall that came
 * or was reloaded later: `iptables -P FORWARD DROP`; a return to a Docker bridge created later), so
 * that `repair` puts them back. With no such chain (a host without another firewall) it costs one read.
 */
export function withHostForward(inner: Backend, tools: NftTools, options: HostForwardOptions = {}): Backend {
  // In a batch (see Firewall.beginBatch) the host's chains are read once; a write of ours reads them again.
  let batching = false
  let seen: Promise<HostForwardChain[]> | undefined
  const read = (): Promise<HostForwardChain[]> => {
    if (!batching) return readHostForward(tools, options.skip, options.optional)
    seen ??= readHostForward(tools, options.skip, options.optional).catch((err: unknown) => {
      seen = undefined
      throw err
    })
    return seen
  }
  const apply = (what: string, lines: ScriptLine[]): Promise<void> =>
    tools.apply(what, toScript(lines)).finally(() => {
      if (lines.length > 0) seen = undefined
    })
  return {
    ...inner,
    beginBatch() {
      batching = true
      seen = undefined
      inner.beginBatch?.()
    },
    endBatch() {
      batching = false
      seen = undefined
      inner.endBatch?.()
    },
    kernelChanged() {
      seen = undefined
      inner.kernelChanged?.()
    },
    async addNetwork(net) {
      const host = await read()
      // cnm's other bridges are known by their accept rules (and never carry Docker's mark).
      const lines = hostAcceptLines(host, net.bridge)
      const existed =
        lines.length > 0 && (await inner.inventory()).networks.some((n) => n.bridge === net.bridge && n.id === net.id)
      await inner.addNetwork(net)
      try {
        await apply(`let network ${net.id} on bridge ${net.bridge} through the host's forward chains`, lines)
      } catch (err) {
        if (!existed) await inner.deleteNetwork(net.bridge).catch(() => undefined)
        throw err
      }
    },
    async deleteNetwork(bridge) {
      await inner.deleteNetwork(bridge)
      const host = await read()
      await apply(`delete network on bridge ${bridge}: accept rules`, hostRemoveLines(host, bridge))
    },
    async inventory() {
      const inv = await inner.inventory()
      const host = await read()
      inv.objects.push(...hostObjects(host))
      const own = inv.networks.map((n) => n.bridge)
      for (const net of inv.networks) {
        const missing = hostMissing(host, net.bridge, own)
        if (missing.length > 0) net.hostForwardMissing = missing
      }
      return inv
    },
    async verify(expected) {
      const damage = await inner.verify(expected)
      const host = await read()
      const own = expected.networks.map((n) => n.bridge)
      for (const net of expected.networks) {
        const missing = hostMissing(host, net.bridge, own)
        if (missing.length === 0) continue
        const entry = damage.networks.find((n) => n.bridge === net.bridge)
        if (entry) entry.missing.push(...missing)
        else damage.networks.push({ bridge: net.bridge, missing })
      }
      return damage
    },
    async repair(expected) {
      const damage = await inner.repair(expected)
      const host = await read()
      const lines: ScriptLine[] = []
      const own = expected.networks.map((n) => n.bridge)
      for (const net of expected.networks) {
        const missing = hostMissing(host, net.bridge, own)
        if (missing.length === 0) continue
        const entry = damage.networks.find((n) => n.bridge === net.bridge)
        if (entry) entry.missing.push(...missing)
        else damage.networks.push({ bridge: net.bridge, missing })
        lines.push(...hostAcceptLines(host, net.bridge, own))
      }
      await apply('repair: accept rules in the host forward chains', dedupe(lines))
      return damage
    },
    async flush() {
      await inner.flush()
      await apply('flush: accept rules in the host forward chains', hostFlushLines(await read()))
    },
  }
}
