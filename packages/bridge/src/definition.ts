import type { DriverDefinition } from '@cnm/driverapi'
import { createBridgeDriver } from './driver.js'
import { BRIDGE_DRIVER_ALIASES, BRIDGE_DRIVER_NAME } from './driver-name.js'

/** The bridge driver as a controller registers it: its name, its aliases, its factory. */
export const bridgeDriver: DriverDefinition = {
  name: BRIDGE_DRIVER_NAME,
  aliases: BRIDGE_DRIVER_ALIASES,
  factory: ({ owner, watchKernel, soleWriter, uncleanStart, onBackgroundError }) =>
    createBridgeDriver({
      owner,
      ...(watchKernel ? { watchKernel } : {}),
      ...(soleWriter ? { soleWriter } : {}),
      ...(uncleanStart !== undefined ? { uncleanStart } : {}),
      ...(onBackgroundError
        ? {
            onTeardownError: (err: unknown, eid: string) =>
              onBackgroundError(err, `teardown of deleted endpoint ${eid}`),
          }
        : {}),
    }),
}
