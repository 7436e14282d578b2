import type { NetworkController, ReconcileReport } from '@cnm/controller'
import type { Command } from 'commander'

/** The options every command takes. */
export interface GlobalOptions {
  /** The store (SQLite file), for in-process work. */
  store: string
  /** Where sandboxes (network namespaces) are bound, for in-process work. */
  sandboxDir: string
  /** The daemon's address (`-H`, `$CNM_HOST`). */
  host: string
  /** Client TLS for a `tcp://` daemon (paths). */
  tlscacert?: string
  tlscert?: string
  tlskey?: string
  /** `--store` or `--sandbox-dir` given (flag or environment): work in process on that store. */
  local: boolean
}

/** The global options as seen from any (sub)command. */
export function globalOptions(cmd: Command): GlobalOptions {
  const o = cmd.optsWithGlobals<{
    store: string
    sandboxDir: string
    host: string
    tlscacert?: string
    tlscert?: string
    tlskey?: string
  }>()
  const given = (name: string): boolean => {
    const source = cmd.getOptionValueSourceWithGlobals(name)
    return source === 'cli' || source === 'env'
  }
  return {
    store: o.store,
    sandboxDir: o.sandboxDir,
    host: o.host,
    ...(o.tlscacert === undefined ? {} : { tlscacert: o.tlscacert }),
    ...(o.tlscert === undefined ? {} : { tlscert: o.tlscert }),
    ...(o.tlskey === undefined ? {} : { tlskey: o.tlskey }),
    local: given('store') || given('sandboxDir'),
  }
}

/** An open controller, with what opening it reconciled. */
export type OpenController = NetworkController & { readonly lastReconcile: ReconcileReport }

/**
 * Opens the controller on the store, runs `fn`, closes it (also on failure). The store serialises
 * concurrent commands, including a running `cnm serve`.
 */
export async function withController<T>(g: GlobalOptions, fn: (c: OpenController) => Promise<T>): Promise<T> {
  // Loaded here, not at start-up: `cnm --help`, bad input and the daemon's clients never pay for
  // the whole stack.
  const { createController } = await import('@cnm/controller')
  const controller = await createController({ storePath: g.store, sandboxDir: g.sandboxDir })
  try {
    return await fn(controller)
  } finally {
    await controller.close()
  }
}
