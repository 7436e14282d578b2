import { attrString, decodeAttrs } from './nlattr.js'

/** nfnetlink's subsystem id of nf_tables: a message's type is `(10 << 8) | NFT_MSG_…`. */
export const NFNL_SUBSYS_NFTABLES = 10
/** The multicast group every committed nf_tables change is announced on. */
export const NFNLGRP_NFTABLES = 7

/** NFT_MSG_… numbers (linux/netfilter/nf_tables.h). */
const MSG = {
  NEWTABLE: 0,
  DELTABLE: 2,
  NEWCHAIN: 3,
  DELCHAIN: 5,
  NEWRULE: 6,
  DELRULE: 8,
  NEWSET: 9,
  DELSET: 11,
  NEWSETELEM: 12,
  DELSETELEM: 14,
  NEWGEN: 15,
  NEWOBJ: 18,
  DELOBJ: 20,
  NEWFLOWTABLE: 22,
  DELFLOWTABLE: 24,
} as const

const DELETES = new Set<number>([
  MSG.DELTABLE,
  MSG.DELCHAIN,
  MSG.DELRULE,
  MSG.DELSET,
  MSG.DELSETELEM,
  MSG.DELOBJ,
  MSG.DELFLOWTABLE,
])
const ADDS = new Set<number>([
  MSG.NEWTABLE,
  MSG.NEWCHAIN,
  MSG.NEWRULE,
  MSG.NEWSET,
  MSG.NEWSETELEM,
  MSG.NEWOBJ,
  MSG.NEWFLOWTABLE,
])

/** NFPROTO_… numbers, by the names nft uses. */
const FAMILIES: Record<number, string> = { 1: 'inet', 2: 'ip', 3: 'arp', 5: 'netdev', 7: 'bridge', 10: 'ip6' }

/** NFTA_GEN_… attributes of a NEWGEN message. */
const NFTA_GEN_PROC_PID = 2
const NFTA_GEN_PROC_NAME = 3

/** One nf_tables notification, decoded as far as a watcher needs. */
export type NftEvent =
  /** An object of a table added or deleted (`table` is `family name`, `inet cnm`). */
  | { kind: 'add' | 'delete'; table: string }
  /** The end of one committed transaction, and who committed it. */
  | { kind: 'generation'; pid: number | undefined; process: string | undefined }

/**
 * Decodes one message of the NFNLGRP_NFTABLES group: every object message (table, chain, rule,
 * set, element, object, flowtable) carries its table's name as attribute 1 after the 4-byte
 * nfgenmsg header (whose first byte is the family); NEWGEN closes a transaction. Anything else
 * (another subsystem, a trace) is undefined.
 */
export function parseNftEvent(type: number, data: Uint8Array): NftEvent | undefined {
  if (type >> 8 !== NFNL_SUBSYS_NFTABLES || data.length < 4) return undefined
  const msg = type & 0xff
  const attrs = decodeAttrs(data.subarray(4))
  if (msg === MSG.NEWGEN) {
    const pid = attrs.get(NFTA_GEN_PROC_PID)?.[0]
    return {
      kind: 'generation',
      pid: pid && pid.length >= 4 ? pid.readUInt32BE(0) : undefined,
      process: attrString(attrs, NFTA_GEN_PROC_NAME),
    }
  }
  const kind = DELETES.has(msg) ? 'delete' : ADDS.has(msg) ? 'add' : undefined
  if (!kind) return undefined
  const family = FAMILIES[data[0] ?? 0] ?? String(data[0])
  return { kind, table: `${family} ${attrString(attrs, 1) ?? ''}` }
}
