import { openGroupSocket } from './group-socket.js'
import { NFNLGRP_NFTABLES, parseNftEvent } from './nft-events.js'

/** One committed nf_tables transaction, as a watcher sees it. */
export interface NftChange {
  /** Tables (`family name`: `inet cnm`, `ip nat`) the transaction deleted something of (a table, chain, rule, set, element). */
  deleted: string[]
  /** Tables it added something to. */
  added: string[]
  /** The process that committed it (undefined on kernels that do not say). */
  pid: number | undefined
  /** That process's name (`nft`, `iptables-nft-re`, `node`). */
  process: string | undefined
  /** Notifications were lost (the socket's receive buffer overflowed): anything may have changed. */
  overrun: boolean
}

/** A running watch: close it to stop. */
export interface NftWatch {
  /** Stops the watch: no more calls of the listener, and its netlink socket is closed. Idempotent. */
  close(): void
}

/**
 * Watches every nf_tables change committed in the calling thread's network namespace (the
 * NFNLGRP_NFTABLES multicast group of a NETLINK_NETFILTER socket: no polling, no `nft monitor`
 * process) and calls `listener` once per committed transaction. The socket does not keep the
 * process alive. Lost notifications (ENOBUFS) are reported as `overrun`.
 */
export function watchNftables(listener: (change: NftChange) => void): NftWatch {
  const sock = openGroupSocket(NFNLGRP_NFTABLES, 1 << 20, 'watch nftables changes')
  let deleted = new Set<string>()
  let added = new Set<string>()
  const emit = (pid: number | undefined, process: string | undefined, overrun: boolean): void => {
    const change = { deleted: [...deleted], added: [...added], pid, process, overrun }
    deleted = new Set()
    added = new Set()
    listener(change)
  }
  sock.on('message', (msgs) => {
    for (const msg of Array.isArray(msgs) ? msgs : [msgs]) {
      const event = parseNftEvent(msg.type, msg.data)
      if (event?.kind === 'delete') deleted.add(event.table)
      else if (event?.kind === 'add') added.add(event.table)
      else if (event?.kind === 'generation') emit(event.pid, event.process, false)
    }
  })
  // ENOBUFS: the kernel dropped notifications; what is held must be checked as a whole.
  sock.on('error', () => emit(undefined, undefined, true))
  let closed = false
  return {
    close() {
      if (closed) return
      closed = true
      sock.removeAllListeners('message')
      sock.close()
    },
  }
}
