export { nullDriver } from './definition.js'
export { createNullDriver, NULL_DRIVER_ALIASES, NULL_DRIVER_NAME } from './null-driver.js'
