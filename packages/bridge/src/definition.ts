import type { DriverDefinition } from '@cnm/driverapi'
import { createBridgeDriver } from './driver.js'
import { BRIDGE_DRIVER_ALIASES, BRIDGE_DRIVER_NAME } from './driver-name.js'
import { describeDamage } from './firewall-watch.js'

/** The bridge driver as a controller registers it: its name, its aliases, its factory. */
export const bridgeDriver: DriverDefinition = {
  name: BRIDGE_DRIVER_NAME,
  aliases: BRIDGE_DRIVER_ALIASES,
  factory: ({ owner, watchKernel, soleWriter, uncleanStart, onBackgroundError, onRepair }) =>
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
      ...(watchKernel && (onBackgroundError || onRepair)
        ? {
            onFirewallRepair: (damage, err) => {
              if (err !== undefined) return onBackgroundError?.(err, 'repair of the firewall rules')
              const what = damage ? describeDamage(damage) : ''
              if (what) onRepair?.(`firewall rules put back: ${what}`)
            },
          }
        : {}),
      ...(watchKernel && onRepair ? { onPortHeldAgain: onRepair } : {}),
    }),
}
