import type { Endpoint, EndpointSettings, Network, Sandbox } from '@cnm/controller'

/**
 * Creates an endpoint with already mapped options (see `endpointOptions`). With a sandbox, its
 * interface is born inside the sandbox and joined in the same transaction: a failure (or a crash)
 * leaves neither.
 */
export async function createEndpoint(
  network: Network,
  name: string,
  options: Record<string, unknown>,
  sandbox?: Sandbox,
  settings: EndpointSettings = {},
): Promise<Endpoint> {
  // With a sandbox: created and joined in one transaction.
  if (sandbox) return network.connect(sandbox, name, options, undefined, settings)
  const { endpoint } = await network.createEndpoint(name, undefined, options, settings)
  return endpoint
}
