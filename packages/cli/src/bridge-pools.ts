import { bridgeDriver } from '@cnm/bridge'
import type { Driver, DriverFactory } from '@cnm/driverapi'
import type { AddressPool } from './address-pools.js'

/**
 * The bridge driver with these pools whatever its stored configuration says (the daemon's flag wins
 * at every start, as dockerd's does): for `createController({ drivers })`.
 */
export function bridgeWithPools(
  pools: readonly AddressPool[],
): Record<string, { factory: DriverFactory; aliases: readonly string[] }> {
  const factory: DriverFactory = async (ctx) => {
    const driver: Driver = await bridgeDriver.factory(ctx)
    const config = driver.config.bind(driver)
    return {
      ...driver,
      config: (raw: unknown) =>
        config({ ...(typeof raw === 'object' && raw !== null ? raw : {}), defaultAddressPools: pools }),
    }
  }
  return { [bridgeDriver.name]: { factory, aliases: bridgeDriver.aliases ?? [] } }
}
