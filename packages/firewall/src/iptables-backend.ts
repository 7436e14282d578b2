import type { IPFamily } from './address.js'
import type { Backend } from './backend.js'
import { commandError } from './command-error.js'
import type { ExpectedRules, FirewallDamage } from './damage.js'
import type { Inventory } from './inventory.js'
import {
  iptAddDockerReturns,
  iptAddNetwork,
  iptAddPorts,
  iptDeleteNetwork,
  iptDeletePorts,
  iptFlush,
  iptInventory,
  iptUndoAddNetwork,
  type RestoreInput,
} from './iptables-rules.js'
import { parseSave, type SavedRuleset } from './iptables-save.js'
import { iptDamage } from './iptables-verify.js'
import type { ParsedNetworkRules } from './network-rules.js'
import { nftTools, withHostForward } from './nft-host-forward.js'
import type { ParsedPortMapping } from './port-mapping.js'
import { runProgram } from './run-program.js'

const FAMILIES: IPFamily[] = [4, 6]

function programs(family: IPFamily): { save: string; restore: string } {
  return family === 4
    ? { save: 'iptables-save', restore: 'iptables-restore' }
    : { save: 'ip6tables-save', restore: 'ip6tables-restore' }
}

async function save(family: IPFamily, table?: 'nat' | 'filter'): Promise<SavedRuleset> {
  const { save: prog } = programs(family)
  const res = await runProgram(prog, table ? ['-t', table] : [])
  if (res.status !== 0 || res.error) throw commandError(`read ${table ?? 'all'} rules`, prog, res)
  return parseSave(res.stdout)
}

/** One `iptables-restore --noflush` call: all of the input, or nothing. */
async function restore(family: IPFamily, what: string, input: RestoreInput): Promise<void> {
  if (input.empty) return
  const { restore: prog } = programs(family)
  const { text, about } = input.render()
  const res = await runProgram(prog, ['--noflush'], text)
  if (res.status !== 0 || res.error) throw commandError(what, prog, res, (line) => about.get(line))
}

/** True when `iptables-restore` runs and the rules may be read here. */
export async function iptablesWorks(): Promise<string | undefined> {
  const res = await runProgram('iptables-save', ['-t', 'filter'])
  if (res.error) return `iptables-save: ${res.error.message}`
  return res.status === 0 ? undefined : `iptables-save: ${res.stderr.trim() || `exit status ${res.status}`}`
}

/** Puts one family back as it was `before` a failed or undone `addNetwork` (errors are ignored). */
async function undoAddNetwork(family: IPFamily, bridge: string, before: SavedRuleset): Promise<void> {
  try {
    await restore(family, 'undo', iptUndoAddNetwork(bridge, await save(family), before, family))
  } catch {}
}

/**
 * `addNetwork`: per family one restore call, which iptables commits table by table (nat, then
 * filter); when a table or the second family fails, what was applied is undone.
 */
async function addNetwork(net: ParsedNetworkRules): Promise<void> {
  const done: [IPFamily, SavedRuleset][] = []
  try {
    for (const family of FAMILIES) {
      if (!net.subnets.some((s) => s.family === family)) continue
      const before = await save(family)
      const input = iptAddNetwork(net, family, before)
      done.push([family, before])
      await restore(family, `add network ${net.id} on bridge ${net.bridge}`, input)
    }
  } catch (err) {
    for (const [family, before] of done.reverse()) await undoAddNetwork(family, net.bridge, before)
    throw err
  }
}

async function addPorts(maps: ParsedPortMapping[]): Promise<void> {
  const done: [IPFamily, ParsedPortMapping[]][] = []
  try {
    for (const family of FAMILIES) {
      const mine = maps.filter((m) => m.family === family)
      if (mine.length === 0) continue
      const { input, added } = iptAddPorts(mine, family, await save(family, 'nat'))
      await restore(family, 'add ports', input)
      done.push([family, added])
    }
  } catch (err) {
    for (const [family, added] of done.reverse()) {
      await restore(family, 'undo', iptDeletePorts(added, family, await save(family, 'nat'))).catch(() => {})
    }
    throw err
  }
}

/**
 * Inserts the returns to Docker bridges that `net` lacks, in each family, when that is all it lacks
 * there; false (nothing written) when something else is missing: the network is then rewritten.
 */
async function addDockerReturns(net: ParsedNetworkRules, own: readonly string[]): Promise<boolean> {
  const inputs: [IPFamily, RestoreInput][] = []
  for (const family of FAMILIES) {
    if (!net.subnets.some((s) => s.family === family)) continue
    const input = iptAddDockerReturns(net, family, await save(family), own)
    if (!input) return false
    inputs.push([family, input])
  }
  for (const [family, input] of inputs) {
    await restore(family, `repair network on bridge ${net.bridge}: returns to Docker bridges`, input)
  }
  return true
}

async function verify(expected: ExpectedRules): Promise<FirewallDamage> {
  const saved = new Map<IPFamily, SavedRuleset>()
  for (const family of FAMILIES) saved.set(family, await save(family))
  return iptDamage(saved, expected)
}

/**
 * The iptables backend (iptables and ip6tables, through `iptables-restore --noflush`): cnm's own
 * `CNM-*` chains plus the jumps into them. Each change reads the table it changes (`iptables-save`)
 * and writes with one restore call per family; a dual-stack change whose second family fails is
 * undone in the first.
 */
export function createIptablesBackend(): Backend {
  // Beside an nftables firewall too (an `inet filter` forward chain with policy drop); iptables'
  // own `filter` tables are this backend's, where CNM-FORWARD's accepts already come first.
  return withHostForward(createIptablesTablesBackend(), nftTools, { skip: HOST_SKIP, optional: true })
}

const HOST_SKIP = ['inet cnm', 'ip filter', 'ip6 filter']

function createIptablesTablesBackend(): Backend {
  return {
    name: 'iptables',
    addNetwork,
    async deleteNetwork(bridge) {
      for (const family of FAMILIES) {
        await restore(family, `delete network on bridge ${bridge}`, iptDeleteNetwork(bridge, await save(family)))
      }
    },
    addPorts,
    async deletePorts(maps) {
      for (const family of FAMILIES) {
        const mine = maps.filter((m) => m.family === family)
        if (mine.length === 0) continue
        await restore(family, 'delete ports', iptDeletePorts(mine, family, await save(family, 'nat')))
      }
    },
    async inventory(): Promise<Inventory> {
      const inv: Inventory = { backend: 'iptables', objects: [], networks: [], ports: [] }
      for (const family of FAMILIES) {
        const part = iptInventory(await save(family), family)
        inv.objects.push(...part.objects)
        inv.ports.push(...part.ports)
        for (const net of part.networks) {
          const known = inv.networks.find((n) => n.bridge === net.bridge)
          if (!known) inv.networks.push(net)
          else {
            known.id ??= net.id
            known.subnets.push(...net.subnets)
          }
        }
      }
      return inv
    },
    async flush() {
      for (const family of FAMILIES) await restore(family, 'flush', iptFlush(await save(family)))
    },
    verify,
    async repair(expected) {
      const damage = await verify(expected)
      // A damaged skeleton (a jump or a chain gone) is rewritten with the networks' rules.
      const damaged = new Set(damage.networks.map((n) => n.bridge))
      const own = expected.networks.map((n) => n.bridge)
      for (const net of expected.networks) {
        if (damage.skeleton.length === 0 && !damaged.has(net.bridge)) continue
        // Only returns to Docker bridges missing (one created since): inserted, nothing rewritten.
        if (damage.skeleton.length === 0 && (await addDockerReturns(net, own))) continue
        for (const family of FAMILIES) {
          await restore(
            family,
            `repair network on bridge ${net.bridge}`,
            iptDeleteNetwork(net.bridge, await save(family)),
          )
        }
        await addNetwork(net)
      }
      if (damage.ports.length > 0) await addPorts(damage.ports)
      return damage
    },
  }
}
