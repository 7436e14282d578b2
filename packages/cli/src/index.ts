export { type ErrorBody, type ErrorBodyKind, errorBody, errorBodyKind, httpStatus } from './api/errors.js'
export { type ApiServerOptions, createApiServer } from './api/server.js'
export { DEFAULT_SOCKET_PATH } from './defaults.js'
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
export { type NetworkFlags, networkOptions } from './network-options.js'
export { connect, disconnect } from './ops/connect.js'
export { removeSandbox } from './ops/sandbox.js'
export type { Output } from './output.js'
export { createProgram, type ProgramOptions } from './program.js'
export { formatPortBinding, type PortBindingSpec, parsePublishSpec } from './publish-spec.js'
export { type ApiServerHandle, type ServeOptions, serveApi } from './serve.js'
export { cliVersion } from './version.js'
export { type SandboxJSON, sandboxJSON } from './views.js'
