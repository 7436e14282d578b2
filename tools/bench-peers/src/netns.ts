// A peer's own throwaway network namespace: its bridge, veth host ends and firewall rules live
// there, so cleaning up after it is deleting the namespace.
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createNetns, deleteNetns } from '@cnm/netlink'
import { run, which } from './run.js'

/** Where peers bind their namespaces unless told otherwise. */
export const PEER_NETNS_DIR = '/run/cnm-bench-peers'

export interface PeerNamespace {
  /** The bound namespace file, for {@link run}'s `netns` and `nsenter --net=`. */
  readonly path: string
  /** Deletes the namespace (and the default directory when empty). Idempotent. */
  remove(): void
}

const safeLabel = (label: string): string => label.replace(/[^A-Za-z0-9_.-]+/g, '-')

/** A new network namespace with `lo` up, bound at `<dir>/<label>-<pid>-<random>`. */
export async function createPeerNamespace(label: string, dir: string = PEER_NETNS_DIR): Promise<PeerNamespace> {
  const nsPath = path.join(dir, `${safeLabel(label)}-${process.pid}-${randomBytes(4).toString('hex')}`)
  await createNetns(nsPath)
  let removed = false
  const ns = {
    path: nsPath,
    remove(): void {
      if (removed) return
      removed = true
      deleteNetns(nsPath)
      if (dir !== PEER_NETNS_DIR) return // the caller's directory: the caller removes it
      try {
        rmdirSync(dir)
      } catch {} // another namespace is still bound there
    },
  }
  try {
    await run(which('ip') ?? 'ip', ['link', 'set', 'lo', 'up'], { netns: nsPath })
  } catch (err) {
    ns.remove()
    throw err
  }
  return ns
}

export interface ScratchDir {
  readonly path: string
  remove(): void
}

/** A private (0700) temporary directory for a peer's state files. */
export function createScratchDir(prefix: string): ScratchDir {
  const dir = mkdtempSync(path.join(tmpdir(), `${safeLabel(prefix)}-`))
  return {
    path: dir,
    remove(): void {
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
