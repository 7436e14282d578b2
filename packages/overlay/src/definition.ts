import type { DriverDefinition } from '@cnm/driverapi'
import { createOverlayDriver } from './driver.js'
import { OVERLAY_DRIVER_NAME } from './driver-name.js'

/** The overlay driver as a controller registers it: its name and its factory (given the cluster). */
export const overlayDriver: DriverDefinition = {
  name: OVERLAY_DRIVER_NAME,
  factory: ({ owner, cluster }) => createOverlayDriver({ owner, ...(cluster ? { cluster } : {}) }),
}
