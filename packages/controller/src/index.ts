export { isDnsName, MAX_ALIASES } from './aliases.js'
export type { ChangeListener, ControllerChange, JoinedEndpoint } from './changes.js'
export { type ClusterView, type ControllerOptions, createController } from './controller.js'
export type { JoinOptions } from './endpoint-ops.js'
export {
  ControllerError,
  ERR_ACTIVE_ENDPOINTS,
  ERR_ALREADY_CONNECTED,
  ERR_ALREADY_JOINED,
  ERR_CONTROLLER_CLOSED,
  ERR_ENDPOINT_NAME_EXISTS,
  ERR_INTERFACE_NAME_MISMATCH,
  ERR_INVALID_LABEL,
  ERR_INVALID_NAME,
  ERR_INVALID_NETWORK_DRIVER,
  ERR_NETWORK_NAME_EXISTS,
  ERR_NIL_NETWORK_DRIVER,
  ERR_NOT_JOINED,
  ERR_PORTS_NOT_SUPPORTED,
  ERR_STORE,
  ERR_STORE_LOCKED,
  ERR_STORE_MISMATCH,
  ERR_UNKNOWN_DRIVER,
  ERR_UNKNOWN_ENDPOINT,
  ERR_UNKNOWN_NETWORK,
  ERR_UNKNOWN_SANDBOX,
} from './errors.js'
export {
  type AddressClaim,
  type ClusterMember,
  ERR_ADDRESS_IN_USE,
  ERR_NETWORK_OVERLAPS,
  ERR_NO_AVAILABLE_IPS,
  ERR_NO_CLUSTER,
  GLOBAL_POOL,
  type GlobalNetworkRecord,
  GlobalStore,
} from './global-store.js'
export { generateID, isValidID } from './id.js'
export type { DriverRegistration } from './registry.js'
export type { SandboxBackend, SandboxHandle } from './sandboxes.js'
export { DEFAULT_STORE_PATH, Store } from './store.js'
export type {
  DriverDescription,
  Endpoint,
  EndpointInspect,
  EndpointSettings,
  Network,
  NetworkController,
  NetworkDriver,
  NetworkInspect,
  NetworkSettings,
  PortInfo,
  ReconcileReport,
  Sandbox,
} from './types.js'
