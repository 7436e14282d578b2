// The one place in the controller that names drivers: the built-ins every controller starts with.
// Anything else is registered through `createController({ drivers })` or `registerDriver`.
import { BRIDGE_DRIVER_ALIASES, BRIDGE_DRIVER_NAME, createBridgeDriver } from '@cnm/bridge'
import { createMacvlanDriver, MACVLAN_DRIVER_NAME } from '@cnm/macvlan'
import { createNullDriver, NULL_DRIVER_ALIASES, NULL_DRIVER_NAME } from '@cnm/null'
import type { DriverRegistration } from './registry.js'

/** The drivers a controller knows from the start, by name. */
export const BUILTIN_DRIVERS: Readonly<Record<string, DriverRegistration>> = {
  [BRIDGE_DRIVER_NAME]: { factory: ({ owner }) => createBridgeDriver({ owner }), aliases: BRIDGE_DRIVER_ALIASES },
  [NULL_DRIVER_NAME]: { factory: () => createNullDriver(), aliases: NULL_DRIVER_ALIASES },
  [MACVLAN_DRIVER_NAME]: { factory: ({ owner }) => createMacvlanDriver({ owner }) },
}
