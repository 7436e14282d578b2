import type { DriverDefinition } from '@cnm/driverapi'
import { createNullDriver, NULL_DRIVER_ALIASES, NULL_DRIVER_NAME } from './null-driver.js'

/** The null driver as a controller registers it: its name, its aliases, its factory. */
export const nullDriver: DriverDefinition = {
  name: NULL_DRIVER_NAME,
  aliases: NULL_DRIVER_ALIASES,
  factory: () => createNullDriver(),
}
