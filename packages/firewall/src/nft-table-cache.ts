import { type NftTableState, nftInventory, nftPublishedPorts, publishedPortId } from './nft-inventory.js'
import { modelPorts, modelPortsGone, modelPublishedPorts } from './nft-table-model.js'
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
  /** In a batch, its read (as `read`); outside one, undefined (the caller reads only what it needs). */
  batchRead(): Promise<NftTableState> | undefined
  begin(): void
  end(): void
  /** The table changed in a way the read cannot follow (someone else, a flush, a failed write): the next read goes to the kernel. */
  changed(): void
  /**
   * This backend's write succeeded: `model` applies it to the batch's read (see nft-table-model.ts),
   * which stays good; false from `model`, or a read still in flight, drops the read instead.
   */
  wrote(model: (state: NftTableState) => boolean | undefined): void
  /** In a batch: whether the table already maps every one of these ports exactly so (nothing to add). */
  holdsPorts(maps: readonly ParsedPortMapping[]): Promise<boolean>
  /** These port elements were just added (the read stays good for everything else). */
  addedPorts(maps: readonly ParsedPortMapping[]): void
  /** These port elements were just deleted. */
  deletedPorts(maps: readonly ParsedPortMapping[]): void
}

export function nftTableCache(readTable: () => Promise<NftTableState>): NftTableCache {
  let batching = false
  let state: Promise<NftTableState> | undefined
  /** The batch's read once it has arrived (what a write of ours updates). */
  let current: NftTableState | undefined
  let held: Set<string> | undefined
  /** The batch's read's elements of `pubports`/`pubports_ip` (`publishedPortId`). */
  let published: Set<string> | undefined
  const read = (): Promise<NftTableState> => {
    if (!batching) return readTable()
    if (state) return state
    const reading = readTable().then(
      (s) => {
        if (state === reading) current = s
        return s
      },
      (err: unknown) => {
        if (state === reading) state = undefined // a failed read is not kept
        throw err
      },
    )
    state = reading
    return reading
  }
  const drop = (): void => {
    state = undefined
    current = undefined
    held = undefined
    published = undefined
  }
  const heldKeys = (s: NftTableState): Set<string> => {
    held ??= new Set(nftInventory(s).ports.map(portKey))
    return held
  }
  const publishedKeys = (s: NftTableState): Set<string> => {
    published ??= nftPublishedPorts(s)
    return published
  }
  return {
    read,
    batchRead: () => (batching ? read() : undefined),
    begin() {
      batching = true
      drop()
      // The batch's one read starts now, on libnftables' pool thread: listing a table of thousands
      // of elements takes it a few hundred ms, which the main thread spends on the store and the
      // link dumps meanwhile instead of waiting at the first read. A failed read is read again
      // by whoever asks first (and thrown to it).
      read().catch(() => undefined)
    },
    end() {
      batching = false
      drop()
    },
    changed: drop,
    wrote(model) {
      if (!state) return
      if (!current || model(current) === false) drop()
    },
    async holdsPorts(maps) {
      if (!batching) return false
      const table = await read()
      if (!table.exists) return false
      const keys = heldKeys(table)
      const remapped = publishedKeys(table)
      return maps.every((m) => expandMapping(m).every((r) => keys.has(portKey(r)) && remapped.has(publishedPortId(r))))
    },
    addedPorts(maps) {
      if (!state) return
      if (!current) return drop()
      const keys = heldKeys(current)
      const remapped = publishedKeys(current)
      const rules = maps.flatMap((m) => expandMapping(m))
      const added = rules.filter((r) => !keys.has(portKey(r)))
      modelPorts(current, added)
      for (const r of added) keys.add(portKey(r))
      const fresh = new Map(rules.filter((r) => !remapped.has(publishedPortId(r))).map((r) => [publishedPortId(r), r]))
      modelPublishedPorts(current, [...fresh.values()])
      for (const id of fresh.keys()) remapped.add(id)
    },
    deletedPorts(maps) {
      if (!state) return
      if (!current) return drop()
      const rules = maps.flatMap((m) => expandMapping(m))
      modelPortsGone(current, rules)
      for (const r of rules) held?.delete(portKey(r))
      published = undefined // pubports_ip elements stay while another address publishes the port: read again
    },
  }
}
