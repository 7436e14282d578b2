import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createController } from '@cnm/controller'
import { MNT_DETACH, umount2 } from '@cnm/netlink'

/** Detaches every bind left in an attachment directory (after a failed test), so it can be removed. */
export function unbindAll(dir: string): void {
  let names: string[] = []
  try {
    names = readdirSync(dir)
  } catch {}
  for (const n of names) {
    try {
      umount2(path.join(dir, n), MNT_DETACH)
    } catch {}
  }
}

/** A test's own cnm state: store, attachment and sandbox directories in a temporary directory. */
export interface CniTestState {
  tmp: string
  store: string
  cniDir: string
  sandboxDir: string
  /**
   * The environment that points the in-process plugin at this state (`CNM_STORE`, `CNM_CNI_DIR`,
   * `CNM_SANDBOX_DIR`), with `CNM_HOST` naming a socket no daemon listens on.
   */
  env: Record<string, string>
  /**
   * Deletes every network the store holds (ADD creates one and leaves it, as the reference bridge
   * does), detaches binds a failed test left, removes the directory. Every step runs.
   */
  cleanup(): Promise<void>
}

/**
 * Makes a test's own cnm state in a new temporary directory named after `prefix` (`mkdtemp`): an
 * empty store, attachment and sandbox directories, and the environment pointing the plugin at them
 * with no daemon. Call {@link CniTestState.cleanup} in `afterAll`/`finally`.
 */
export function createCniTestState(prefix: string): CniTestState {
  const tmp = mkdtempSync(path.join(tmpdir(), prefix))
  const store = path.join(tmp, 'cnm.db')
  const cniDir = path.join(tmp, 'cni')
  const sandboxDir = path.join(tmp, 'sb')
  return {
    tmp,
    store,
    cniDir,
    sandboxDir,
    env: {
      CNM_STORE: store,
      CNM_CNI_DIR: cniDir,
      CNM_SANDBOX_DIR: sandboxDir,
      CNM_HOST: `unix://${path.join(tmp, 'no-daemon.sock')}`,
    },
    async cleanup() {
      try {
        const c = await createController({ storePath: store, sandboxDir })
        try {
          for (const n of c.networks()) await n.delete()
        } finally {
          await c.close()
        }
      } finally {
        unbindAll(cniDir)
        rmSync(tmp, { recursive: true, force: true })
      }
    },
  }
}
