import type { DriverDefinition } from '@cnm/driverapi'
import { createMacvlanDriver } from './driver.js'
import { MACVLAN_DRIVER_NAME } from './driver-name.js'

/** The macvlan driver as a controller registers it: its name and its factory. */
export const macvlanDriver: DriverDefinition = {
  name: MACVLAN_DRIVER_NAME,
  factory: ({ owner }) => createMacvlanDriver({ owner }),
}
