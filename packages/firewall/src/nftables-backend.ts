import { hasErrorCode } from '@cnm/driverapi'
import type { Backend } from './backend.js'
import { commandError } from './command-error.js'
import { FirewallError } from './errors.js'
import { withHostForward } from './nft-host-forward.js'
import { addressPortsKept, type NftTableState, nftInventory, nftNetworkState, parseNftTable } from './nft-inventory.js'
import { runNftInProcess } from './nft-lib.js'
import { nftRepair } from './nft-repair.js'
import {
  NFT_FAMILY,
  NFT_TABLE,
  type NftScript,
  nftAddNetwork,
  nftAddPorts,
  nftDeleteNetwork,
  nftDeletePorts,
  nftFlush,
  renderNftScript,
} from './nft-script.js'
import { nftTableCache } from './nft-table-cache.js'
import { modelNetwork, modelNetworkGone, modelSkeleton } from './nft-table-model.js'
import { nftDamage } from './nft-verify.js'
import { expandMapping, type ParsedPortMapping } from './port-mapping.js'
import { type ExecResult, runProgram } from './run-program.js'

/** `nft <args>`, in process through libnftables when it is there, else spawned. */
async function nft(args: readonly string[], input?: string): Promise<ExecResult> {
  return runNftInProcess(args, input) ?? runProgram('nft', args, input)
}

/** Applies a script as one transaction (`nft -f -`): all of it, or nothing. */
async function apply(what: string, s: NftScript): Promise<void> {
  if (s.lines.length === 0) return
  const res = await nft(['-f', '-'], renderNftScript(s))
  if (res.status !== 0 || res.error) throw commandError(what, 'nft', res, (line) => s.about.get(line))
}

async function readTable(): Promise<NftTableState> {
  const res = await nft(['-j', 'list', 'table', NFT_FAMILY, NFT_TABLE])
  if (res.status === 0 && !res.error) return parseNftTable(res.stdout)
  if (/No such file or directory/u.test(res.stderr)) return parseNftTable(undefined)
  throw commandError(`list table ${NFT_FAMILY} ${NFT_TABLE}`, 'nft', res)
}

/**
 * Reads the DNAT maps of ports published on a host address (`dnat4`, `dnat6`: usually few elements,
 * unlike the maps of ports published on every address) of the families of `maps`; a missing map
 * or table reads as empty.
 */
async function readAddressMaps(maps: readonly ParsedPortMapping[]): Promise<NftTableState> {
  const state = parseNftTable(undefined)
  for (const family of new Set(maps.filter((m) => m.hostIP !== undefined).map((m) => m.family))) {
    const res = await nft(['-j', 'list', 'map', NFT_FAMILY, NFT_TABLE, `dnat${family}`])
    if (res.status === 0 && !res.error) {
      for (const [name, elems] of parseNftTable(res.stdout).sets) state.sets.set(name, elems)
    } else if (!/No such file or directory/u.test(res.stderr)) {
      throw commandError(`list map ${NFT_FAMILY} ${NFT_TABLE} dnat${family}`, 'nft', res)
    }
  }
  return state
}

/**
 * Puts back missing port elements: all in one transaction, or (when one host port has gone to
 * another destination meanwhile: EEXIST) one by one, every one tried; the failures are thrown
 * together.
 */
async function applyPorts(scripts: { what: string; script: NftScript }[]): Promise<void> {
  if (scripts.length === 0) return
  const all = scripts.flatMap((p) => p.script.lines)
  try {
    return await apply('repair ports', { lines: all, about: new Map() })
  } catch (err) {
    if (scripts.length === 1) throw err
  }
  const failed: { code: string; message: string }[] = []
  for (const p of scripts) await apply(p.what, p.script).catch((err: unknown) => failed.push(err as FirewallError))
  const [first] = failed
  if (first) throw new FirewallError(first.code, `repair ports: ${failed.map((e) => e.message).join('; ')}`)
}

/** True when `nft` runs and may read the ruleset here. */
export async function nftWorks(): Promise<string | undefined> {
  const res = await nft(['list', 'tables'])
  if (res.error) return `nft: ${res.error.message}`
  return res.status === 0 ? undefined : `nft: ${res.stderr.trim() || `exit status ${res.status}`}`
}

/**
 * The nftables backend: everything lives in `table inet cnm`. Networks have their own chains,
 * reached through verdict maps keyed by bridge and source subnet; published ports are elements of
 * DNAT maps keyed by protocol . address . port, so adding or removing one does not depend on how
 * many there are.
 */
export function createNftablesBackend(): Backend {
  return withHostForward(createNftablesTableBackend(), { nft, apply })
}

/** The verbs on cnm's own table (`withHostForward` adds the host's forward chains). */
function createNftablesTableBackend(): Backend {
  /** The skeleton was written by this backend and not flushed since (elements alone will do). */
  let ready = false
  /**
   * One read of the table for a whole batch of restores (see beginBatch): this backend's writes
   * update it (nft-table-model.ts), a failed one drops it.
   */
  const table = nftTableCache(readTable)
  const changing = <T>(p: Promise<T>, model: Parameters<typeof table.wrote>[0]): Promise<T> =>
    p.then(
      (v) => {
        table.wrote(model)
        return v
      },
      (err: unknown) => {
        table.changed()
        throw err
      },
    )
  return {
    name: 'nftables',
    beginBatch: () => table.begin(),
    endBatch: () => table.end(),
    kernelChanged: () => table.changed(),
    async addNetwork(net) {
      await changing(apply(`add network ${net.id} on bridge ${net.bridge}`, nftAddNetwork(net)), (s) =>
        modelNetwork(s, net),
      )
      ready = true
    },
    async deleteNetwork(bridge) {
      const state = await table.read()
      if (!state.exists) return
      const gone = nftNetworkState(state, bridge)
      await changing(apply(`delete network on bridge ${bridge}`, nftDeleteNetwork(gone)), (s) => {
        modelNetworkGone(s, gone)
        return true
      })
    },
    async addPorts(maps) {
      // Restoring in a batch: what the kernel already maps exactly so needs no transaction.
      if (await table.holdsPorts(maps)) return
      if (ready) {
        try {
          await apply('add ports', nftAddPorts(maps, false))
          return table.addedPorts(maps)
        } catch (err) {
          // ENOENT: the table or a map is gone (flushed by someone else): write the skeleton too.
          if (!hasErrorCode(err, 'ENOENT')) throw err
        }
      }
      await changing(apply('add ports', nftAddPorts(maps)), (s) => {
        modelSkeleton(s)
        return true
      })
      table.addedPorts(maps)
      ready = true
    },
    async deletePorts(maps) {
      try {
        // A port published on a host address keeps its masquerade remap while another address publishes it.
        let kept: Set<string> | undefined
        if (maps.some((m) => m.hostIP !== undefined)) {
          const state = await (table.batchRead() ?? readAddressMaps(maps))
          kept = addressPortsKept(
            state,
            maps.flatMap((m) => expandMapping(m)),
          )
        }
        await changing(apply('delete ports', nftDeletePorts(maps, kept)), () => true)
        table.deletedPorts(maps)
      } catch (err) {
        // The table or its maps are gone (flushed): nothing is published, so nothing to delete.
        if (hasErrorCode(err, 'ENOENT') && !(await readTable()).exists) return
        throw err
      }
    },
    inventory: async () => nftInventory(await table.read()),
    verify: async (expected) => nftDamage(await table.read(), expected),
    async repair(expected) {
      const damage = nftDamage(await table.read(), expected)
      const { network, ports } = nftRepair(damage, expected)
      if (network.lines.length > 0) {
        const damaged = new Set(damage.networks.map((n) => n.bridge))
        const nets = expected.networks.filter((n) => damaged.has(n.bridge))
        await changing(apply('repair', network), (s) => {
          modelSkeleton(s)
          return nets.every((n) => modelNetwork(s, n))
        })
        ready = true
      }
      if (ports.length > 0) {
        await changing(applyPorts(ports), () => true)
        table.addedPorts(damage.ports)
      }
      return damage
    },
    async flush() {
      ready = false
      await apply('flush', nftFlush()).finally(() => table.changed())
    },
  }
}
