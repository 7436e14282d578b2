export { type ErrorBody, type ErrorBodyKind, errorBody, errorBodyKind, httpStatus } from './api/errors.js'
export { EventBus } from './api/events.js'
export { buildOpenApiDocument } from './api/openapi.js'
export { type ApiServer, type ApiServerOptions, createApiServer } from './api/server.js'
export { DEFAULT_HOST, DEFAULT_SOCKET_PATH } from './defaults.js'
export type { CheckResult } from './demo/checks.js'
export { type DemoOptions, type DemoResult, runDemo } from './demo/run.js'
export { type EndpointFlags, endpointOptions } from './endpoint-options.js'
export {
  CliError,
  ERR_AMBIGUOUS_REFERENCE,
  ERR_DEMO_FAILED,
  ERR_INVALID_ARGUMENT,
  ERR_INVALID_PUBLISH_SPEC,
  ERR_MISSING_ARGUMENT,
  ERR_NOT_FOUND,
  ERR_RECONCILE_INCOMPLETE,
  ERR_SOCKET_IN_USE,
  ERR_TOO_MANY_ARGUMENTS,
  ERR_UNKNOWN_COMMAND,
  ERR_UNKNOWN_OPTION,
  formatError,
} from './errors.js'
export { describeFailure, type Failure } from './failure.js'
export { type ListenAddress, parseListenAddress } from './listen-address.js'
export { type NetworkFlags, type NetworkSpec, networkSpec } from './network-options.js'
export { connect, disconnect } from './ops/connect.js'
export { removeSandbox } from './ops/sandbox.js'
export type { Output } from './output.js'
export { createProgram, type ProgramOptions } from './program.js'
export { formatPortBinding, type PortBindingSpec, parsePublishSpec } from './publish-spec.js'
export { type ApiServerHandle, checkTcpSecurity, type ServeOptions, type ServeTls, serveApi } from './serve.js'
export {
  ERR_BODY_TOO_LARGE,
  ERR_DAEMON_UNREACHABLE,
  ERR_INSECURE_TCP,
  ERR_INVALID_REQUEST,
  ERR_METHOD_NOT_ALLOWED,
  ERR_NETWORK_OVERLAPS,
  ERR_PERMISSION_DENIED,
  ERR_SHUTTING_DOWN,
  ERR_UNSUPPORTED_MEDIA_TYPE,
} from './service/codes.js'
export type { ServiceInfo } from './service/context.js'
export { cliVersion } from './version.js'
export { type SandboxJSON, sandboxJSON } from './views.js'
