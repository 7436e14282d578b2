import { ensureThreadPool } from '@cnm/netlink'
import { DEFAULT_CNI_DIR } from './attachment.js'
import { createCniContext } from './context.js'
import type { WithContext } from './handle.js'

/** Where the in-process path finds the store and directories: the defaults, unless `CNM_*` says otherwise. */
export interface LocalPaths {
  store: string | undefined
  sandboxDir: string | undefined
  cniDir: string
}

/**
 * The store and directories of the in-process path, from the environment: `CNM_STORE` (the store
 * file; unset: the controller's default), `CNM_SANDBOX_DIR` (unset: the controller's default) and
 * `CNM_CNI_DIR` (default `/run/cnm/cni`). Empty values count as unset.
 */
export function localPaths(env: Readonly<Record<string, string | undefined>>): LocalPaths {
  return {
    store: env.CNM_STORE || undefined,
    sandboxDir: env.CNM_SANDBOX_DIR || undefined,
    cniDir: env.CNM_CNI_DIR || DEFAULT_CNI_DIR,
  }
}

/**
 * In-process work: the controller opened on the store for this one call (serialised with the
 * daemon and every other cnm process by the store's transactions), closed afterwards.
 */
export function inProcess(paths: LocalPaths): WithContext {
  return async (fn) => {
    await ensureThreadPool()
    const { createController } = await import('@cnm/controller')
    const controller = await createController({
      ...(paths.store ? { storePath: paths.store } : {}),
      ...(paths.sandboxDir ? { sandboxDir: paths.sandboxDir } : {}),
    })
    try {
      return await fn(createCniContext(controller, paths.cniDir))
    } finally {
      await controller.close()
    }
  }
}
