export {
  ActiveEndpointsError,
  DriverError,
  EndpointExistsError,
  ERR_ACTIVE_ENDPOINTS,
  ERR_ENDPOINT_EXISTS,
  ERR_INVALID_CONFIG,
  ERR_NETWORK_EXISTS,
  ERR_NO_ENDPOINT,
  ERR_NO_NETWORK,
  ERR_NOT_SUPPORTED,
  ERR_TEARDOWN,
  InvalidConfigError,
  NetworkExistsError,
  NoEndpointError,
  NoNetworkError,
  NotSupportedError,
  TeardownError,
} from './errors.js'
export { errorCode, hasErrorCode } from './has-error-code.js'
export type { Driver, Interface, SandboxInfo, StaticRoute } from './types.js'
