import { type NftTableState, nftInventory } from './nft-inventory.js'
import { expandMapping, type ParsedPortMapping } from './port-mapping.js'

/** One DNAT element, as the inventory and `verify` compare them. */
const portKey = (r: {
  proto: string
  hostIP?: string | undefined
  hostPort: number
  containerIP: string
  containerPort: number
}): string => `${r.proto}|${r.hostIP ?? '*'}|${r.hostPort}|${r.containerIP}|${r.containerPort}`

/**
 * Reads of `table inet cnm` during a batch (a start-up restoring every network and published port):
 * one read answers them all, instead of one whole-table listing (hundreds of ms with thousands of
 * elements) per network. Outside a batch every read goes to the kernel.
 */
export interface NftTableCache {
  read(): Promise<NftTableState>
  begin(): void
  end(): void
  /** This backend changed the table (other than adding port elements): the next read goes to the kernel. */
  changed(): void
  /** In a batch: whether the table already maps every one of these ports exactly so (nothing to add). */
  holdsPorts(maps: readonly ParsedPortMapping[]): Promise<boolean>
  /** These port elements were just added (the read stays good for everything else). */
  addedPorts(maps: readonly ParsedPortMapping[]): void
}

export function nftTableCache(readTable: () => Promise<NftTableState>): NftTableCache {
  let batching = false
  let state: Promise<NftTableState> | undefined
  let held: Set<string> | undefined
  const read = (): Promise<NftTableState> => {
    if (!batching) return readTable()
    state ??= readTable().catch((err: unknown) => {
      state = undefined // a failed read is not kept
      throw err
    })
    return state
  }
  const drop = (): void => {
    state = undefined
    held = undefined
  }
  return {
    read,
    begin() {
      batching = true
      drop()
    },
    end() {
      batching = false
      drop()
    },
    changed: drop,
    async holdsPorts(maps) {
      if (!batching) return false
      const table = await read()
      if (!table.exists) return false
      held ??= new Set(nftInventory(table).ports.map(portKey))
      const keys = held
      return maps.every((m) => expandMapping(m).every((r) => keys.has(portKey(r))))
    },
    addedPorts(maps) {
      if (!held) return
      for (const m of maps) for (const r of expandMapping(m)) held.add(portKey(r))
    },
  }
}
