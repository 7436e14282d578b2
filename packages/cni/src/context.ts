import type { NetworkController } from '@cnm/controller'
import type { LazySandbox } from './lazy-sandbox.js'

/** What every CNI operation works with: an open controller and cnm's attachment directory. */
export interface CniContext {
  controller: NetworkController
  /** Where attachments' namespaces are bound (default `/run/cnm/cni`). */
  cniDir: string
  /** Namespaces lent to the controller's joins, by key: released after each operation. */
  lent: Map<string, LazySandbox>
}

export function createCniContext(controller: NetworkController, cniDir: string): CniContext {
  return { controller, cniDir, lent: new Map() }
}
