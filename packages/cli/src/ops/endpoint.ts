import type { Endpoint, Network, Sandbox } from '@cnm/controller'

/**
 * Creates an endpoint with already mapped options (see `endpointOptions`). With a sandbox, its
 * interface is born inside the sandbox and joined at once; a failed join deletes the endpoint.
 */
export async function createEndpoint(
  network: Network,
  name: string,
  options: Record<string, unknown>,
  sandbox?: Sandbox,
): Promise<Endpoint> {
  const { endpoint } = await network.createEndpoint(name, sandbox?.key, options)
  if (!sandbox) return endpoint
  try {
    await endpoint.join(sandbox)
  } catch (err) {
    await endpoint.delete().catch(() => undefined)
    throw err
  }
  return endpoint
}
