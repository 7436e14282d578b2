import type { Endpoint, Network, NetworkController, Sandbox } from '@cnm/controller'
import { ERR_UNKNOWN_ENDPOINT, ERR_UNKNOWN_NETWORK, ERR_UNKNOWN_SANDBOX } from '@cnm/controller/errors'
import { CliError, ERR_AMBIGUOUS_REFERENCE } from './errors.js'

/**
 * The one item `ref` names: an exact match of any of `exact` first, else the one whose id starts
 * with `ref` (Docker's rule). Unknown and ambiguous references are errors naming the reference.
 */
function pick<T extends { id: string }>(
  items: T[],
  ref: string,
  exact: (item: T) => boolean,
  kind: string,
  unknownCode: string,
  where = '',
): T {
  const hit = items.find(exact)
  if (hit) return hit
  const byPrefix = ref.length > 0 ? items.filter((i) => i.id.startsWith(ref)) : []
  if (byPrefix.length === 1 && byPrefix[0]) return byPrefix[0]
  if (byPrefix.length > 1) {
    throw new CliError(ERR_AMBIGUOUS_REFERENCE, `${kind} id prefix ${ref} matches ${byPrefix.length} ${kind}s${where}`)
  }
  throw new CliError(unknownCode, `unknown ${kind} ${ref}${where}`, { kind: 'not-found' })
}

/** A network by name, id or unique id prefix. */
export function findNetwork(controller: NetworkController, ref: string): Network {
  return pick(controller.networks(), ref, (n) => n.name === ref || n.id === ref, 'network', ERR_UNKNOWN_NETWORK)
}

/** A sandbox by id, container id, key (namespace path) or unique id prefix. */
export function findSandbox(controller: NetworkController, ref: string): Sandbox {
  // An exact reference (what a connect names: a container id) costs no view of every sandbox.
  const exact = controller.sandboxByRef(ref)
  if (exact) return exact
  return pick(
    controller.sandboxes(),
    ref,
    (s) => s.id === ref || s.containerID === ref || s.key === ref,
    'sandbox',
    ERR_UNKNOWN_SANDBOX,
  )
}

/** An endpoint of a network by name, id or unique id prefix. */
export function findEndpoint(network: Network, ref: string): Endpoint {
  return pick(
    network.endpoints(),
    ref,
    (e) => e.name === ref || e.id === ref,
    'endpoint',
    ERR_UNKNOWN_ENDPOINT,
    ` in network ${network.name}`,
  )
}

/** Every endpoint of every network. */
export function allEndpoints(controller: NetworkController): Endpoint[] {
  return controller.networks().flatMap((n) => n.endpoints())
}
