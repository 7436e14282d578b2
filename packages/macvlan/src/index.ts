export { createMacvlanDriver, type MacvlanDriverOptions } from './driver.js'
export { MACVLAN_DRIVER_NAME } from './driver-name.js'
export { ERR_PARENT_IN_USE, ParentInUseError } from './errors.js'
export type { MacvlanEndpointRecord, MacvlanNetworkRecord } from './records.js'
