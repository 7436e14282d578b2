export { type ClientOptions, type CnmApi, type CnmClient, createClient } from './client.js'
export {
  type ClientErrorKind,
  CnmClientError,
  ERR_BAD_RESPONSE,
  ERR_DAEMON_UNREACHABLE,
  ERR_INVALID_HOST,
  ERR_PERMISSION_DENIED,
} from './errors.js'
export { type DaemonAddress, DEFAULT_HOST, formatHost, parseHost } from './host.js'
export type {
  Connect,
  Disconnect,
  EndpointCreate,
  NetworkCreate,
  NetworkPrune,
  PortBinding,
  SandboxCreate,
} from './schema/bodies.js'
export type {
  Endpoint,
  ErrorBody,
  Event,
  EventAction,
  Info,
  Network,
  NetworkPruneReport,
  Port,
  ReconcileReport,
  Resolver,
  Sandbox,
  Version,
} from './schema/objects.js'
export type { TlsOptions } from './transport.js'
