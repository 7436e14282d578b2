import type { Sandbox } from '@cnm/controller'

/** A sandbox as `--json` and the REST API show it. */
export interface SandboxJSON {
  id: string
  containerID: string
  /** The container's name, if given. */
  name?: string
  /** The bound network namespace. */
  key: string
  /** Endpoints joined to it. */
  endpoints: { id: string; name: string; network: string }[]
}

/**
 * A controller sandbox as plain JSON ({@link SandboxJSON}): what `cnm sandbox inspect --json`
 * prints and `GET /v1/sandboxes/{sandbox}` answers; `name` is left out when the sandbox has none.
 */
export function sandboxJSON(s: Sandbox): SandboxJSON {
  return {
    id: s.id,
    containerID: s.containerID,
    ...(s.name === undefined ? {} : { name: s.name }),
    key: s.key,
    endpoints: s.endpoints().map((e) => ({ id: e.id, name: e.name, network: e.network.name })),
  }
}
