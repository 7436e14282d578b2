import type { Endpoint, EndpointSettings, Network, Sandbox } from '@cnm/controller'
import { ERR_NOT_JOINED } from '@cnm/controller/errors'
import { CliError, invalidArgument } from '../errors.js'

/** The endpoint name `connect` uses when none is given: the sandbox's container id. */
export function defaultEndpointName(sandbox: Sandbox): string {
  return sandbox.containerID || `sb-${sandbox.id.slice(0, 12)}`
}

/**
 * Connects a sandbox to a network: joins the named endpoint when it exists (and is not joined),
 * else creates one (named after the container by default) inside the sandbox and joins it.
 */
export async function connect(
  network: Network,
  sandbox: Sandbox,
  endpointName: string | undefined,
  options: Record<string, unknown>,
  settings: EndpointSettings = {},
): Promise<Endpoint> {
  const existing =
    endpointName === undefined
      ? undefined
      : network.endpoints().find((e) => e.name === endpointName || e.id === endpointName)
  if (existing) {
    if (Object.keys(options).length > 0 || (settings.aliases?.length ?? 0) > 0) {
      throw invalidArgument(
        `endpoint ${existing.name} exists: its options (publish, ip, alias, …) cannot change on connect`,
      )
    }
    await existing.join(sandbox)
    return existing
  }
  // One transaction: an endpoint born in the sandbox and joined, or nothing at all.
  return network.connect(sandbox, endpointName ?? defaultEndpointName(sandbox), options, undefined, settings)
}

/**
 * Disconnects a sandbox from a network, as `docker network disconnect` does: every endpoint of that
 * network joined to the sandbox leaves it and is deleted. Returns those endpoints.
 */
export async function disconnect(network: Network, sandbox: Sandbox): Promise<Endpoint[]> {
  const joined = sandbox.endpoints().filter((e) => e.network.id === network.id)
  if (joined.length === 0) {
    throw new CliError(
      ERR_NOT_JOINED,
      `sandbox ${sandbox.containerID || sandbox.id} is not connected to network ${network.name}`,
      { kind: 'conflict' },
    )
  }
  for (const e of joined) await e.delete()
  return joined
}
