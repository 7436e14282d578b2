import type { NetworkController, ReconcileReport } from '@cnm/controller'
import type { Command } from 'commander'

/** The options every command takes. */
export interface GlobalOptions {
  /** The store (SQLite file). */
  store: string
  /** Where sandboxes (network namespaces) are bound. */
  sandboxDir: string
}

/** The global options as seen from any (sub)command. */
export function globalOptions(cmd: Command): GlobalOptions {
  const o = cmd.optsWithGlobals<{ store: string; sandboxDir: string }>()
  return { store: o.store, sandboxDir: o.sandboxDir }
}

/** An open controller, with what opening it reconciled. */
export type OpenController = NetworkController & { readonly lastReconcile: ReconcileReport }

/**
 * Opens the controller on the store, runs `fn`, closes it (also on failure). The store serialises
 * concurrent commands, including a running `cnm serve`.
 */
export async function withController<T>(
  g: GlobalOptions,
  fn: (c: OpenController) => Promise<T>,
  extra: { onStoreMismatch?: 'refuse' | 'remove-orphans' } = {},
): Promise<T> {
  // Loaded here, not at start-up: `cnm --help` and bad input never pay for the whole stack.
  const { createController } = await import('@cnm/controller')
  const controller = await createController({ storePath: g.store, sandboxDir: g.sandboxDir, ...extra })
  try {
    return await fn(controller)
  } finally {
    await controller.close()
  }
}
