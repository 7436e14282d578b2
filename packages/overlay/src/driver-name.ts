/** The name overlay networks record. */
export const OVERLAY_DRIVER_NAME = 'overlay'
