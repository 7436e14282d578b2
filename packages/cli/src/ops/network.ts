import type { Network, NetworkController, NetworkSettings } from '@cnm/controller'

/** Creates a network with an already mapped set of driver options (see `networkOptions`). */
export async function createNetwork(
  controller: NetworkController,
  name: string,
  driver: string,
  options: Record<string, unknown>,
  settings: NetworkSettings = {},
): Promise<Network> {
  const handle = await controller.newNetworkDriver(driver, {})
  return controller.newNetwork(handle, name, options, settings)
}
