export { BRIDGE_DRIVER_ALIASES, BRIDGE_DRIVER_NAME, defaultBridgeName, isBridgeDriverName } from './driver-name.js'
