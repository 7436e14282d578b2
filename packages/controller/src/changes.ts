import type { SandboxInfo } from '@cnm/driverapi'
import type { Core } from './core.js'
import type { EndpointRow } from './store.js'

/** An endpoint joined to a sandbox, with what naming it needs (the DNS server's entry). */
export interface JoinedEndpoint {
  /** The endpoint's id. */
  id: string
  /** The endpoint's name (a DNS name of the sandbox on its network). */
  name: string
  /** The id of its network. */
  networkId: string
  /** The endpoint's own aliases (`connect --alias`), as stored. */
  aliases: string[]
  /** Its addresses, without prefix length. */
  ipv4: string | undefined
  /** Its IPv6 address, without prefix length, if any. */
  ipv6: string | undefined
  /** The sandbox it joined: id, container id and name (DNS names too), namespace path. */
  sandbox: { id: string; containerID: string; name: string | undefined; key: string }
}

/**
 * A committed change, announced after the store's transaction commits and the tables are updated
 * (so a listener sees the controller as it now is):
 * - `join`/`leave`: an endpoint joined or left a sandbox (deleting an endpoint or its sandbox leaves first);
 * - `network`: a network was created or deleted; `sandbox`: a sandbox was destroyed (after its leaves);
 * - `sync`: the tables were reloaded from the store (another process's work, a reconcile): look again.
 */
export type ControllerChange =
  | { type: 'join'; endpoint: JoinedEndpoint }
  | { type: 'leave'; endpointId: string; networkId: string }
  | { type: 'network'; action: 'create' | 'delete'; id: string }
  | { type: 'sandbox'; action: 'delete'; id: string }
  | { type: 'sync' }

/**
 * A function told of each committed {@link ControllerChange}, synchronously and in commit order,
 * after the controller's tables reflect it. Keep it quick and queue slow work: it runs inside the
 * operation. A listener that throws neither undoes the change nor stops the other listeners.
 */
export type ChangeListener = (change: ControllerChange) => void

const LISTENERS = new WeakMap<Core, Set<ChangeListener>>()

/** Adds a listener of a controller's committed changes; returns its removal. */
export function addChangeListener(core: Core, listener: ChangeListener): () => void {
  let set = LISTENERS.get(core)
  if (!set) {
    set = new Set()
    LISTENERS.set(core, set)
  }
  set.add(listener)
  return () => void set.delete(listener)
}

/** Tells every listener; a listener that throws does not undo the change (nor stop the others). */
export function notifyChange(core: Core, change: ControllerChange): void {
  const set = LISTENERS.get(core)
  if (!set) return
  for (const listener of set) {
    try {
      listener(change)
    } catch {
      // A listener's own failure: the change is committed all the same.
    }
  }
}

const bare = (cidr: string | undefined): string | undefined => cidr?.split('/')[0]

/** What a `join` change says about an endpoint and its sandbox (from the tables, after the commit). */
export function joinedEndpoint(core: Core, ep: EndpointRow): JoinedEndpoint | undefined {
  const join = core.joins.get(ep.id)
  const sb = join ? core.sandboxes.get(join.sandboxId) : undefined
  if (!sb) return undefined
  const iface = (ep.sandboxInfo as SandboxInfo | undefined)?.interfaces?.[0]
  return {
    id: ep.id,
    name: ep.name,
    networkId: ep.networkId,
    aliases: ep.aliases ?? [],
    ipv4: bare(iface?.address),
    ipv6: bare(iface?.addressIPv6),
    sandbox: { id: sb.id, containerID: sb.containerId, name: sb.name, key: sb.key },
  }
}
