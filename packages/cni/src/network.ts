import type { Network, NetworkController } from '@cnm/controller'
import { hasErrorCode } from '@cnm/driverapi'
import type { CnmNetConf } from './netconf.js'

/**
 * The configuration's cnm network: the existing one by name, else created with the configuration's
 * driver and options. Two runtimes creating it at once: the second finds the first's.
 */
export async function networkFor(controller: NetworkController, conf: CnmNetConf): Promise<Network> {
  await controller.refresh()
  const found = controller.networkByName(conf.network)
  if (found) return found
  const driver = await controller.newNetworkDriver(conf.driver, {})
  try {
    return await controller.newNetwork(driver, conf.network, conf.options)
  } catch (err) {
    if (!hasErrorCode(err, 'ERR_NETWORK_NAME_EXISTS')) throw err
    await controller.refresh()
    const made = controller.networkByName(conf.network)
    if (!made) throw err
    return made
  }
}

/** The configuration's network if it exists (DEL, CHECK, GC never create one). */
export async function existingNetwork(controller: NetworkController, conf: CnmNetConf): Promise<Network | undefined> {
  await controller.refresh()
  return controller.networkByName(conf.network)
}
