import { hasErrorCode } from '@cnm/driverapi'
import type { Backend } from './backend.js'
import { commandError } from './command-error.js'
import { type NftTableState, nftInventory, nftNetworkState, parseNftTable } from './nft-inventory.js'
import { runNftInProcess } from './nft-lib.js'
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
  /** The skeleton was written by this backend and not flushed since (elements alone will do). */
  let ready = false
  return {
    name: 'nftables',
    async addNetwork(net) {
      await apply(`add network ${net.id} on bridge ${net.bridge}`, nftAddNetwork(net))
      ready = true
    },
    async deleteNetwork(bridge) {
      const state = await readTable()
      if (!state.exists) return
      await apply(`delete network on bridge ${bridge}`, nftDeleteNetwork(nftNetworkState(state, bridge)))
    },
    async addPorts(maps) {
      if (ready) {
        try {
          return await apply('add ports', nftAddPorts(maps, false))
        } catch (err) {
          // ENOENT: the table or a map is gone (flushed by someone else): write the skeleton too.
          if (!hasErrorCode(err, 'ENOENT')) throw err
        }
      }
      await apply('add ports', nftAddPorts(maps))
      ready = true
    },
    async deletePorts(maps) {
      try {
        await apply('delete ports', nftDeletePorts(maps))
      } catch (err) {
        // The table or its maps are gone (flushed): nothing is published, so nothing to delete.
        if (hasErrorCode(err, 'ENOENT') && !(await readTable()).exists) return
        throw err
      }
    },
    inventory: async () => nftInventory(await readTable()),
    async flush() {
      ready = false
      await apply('flush', nftFlush())
    },
  }
}
