export {
  DockerPluginError,
  ERR_DOCKER_ADDRESS_IN_USE,
  ERR_DOCKER_INVALID_REQUEST,
  ERR_DOCKER_NO_ADDRESS,
  ERR_DOCKER_NOT_SUPPORTED,
  ERR_DOCKER_STATE,
  ERR_DOCKER_UNKNOWN_OBJECT,
} from './errors.js'
export type { PluginEvent, PluginEventSink } from './events.js'
export { dockerNetworkId, endpointName, networkName } from './names.js'
export {
  createDockerPluginApp,
  DEFAULT_PLUGIN_SOCKET,
  type DockerPluginOptions,
  type DockerPluginServer,
  PLUGIN_MEDIA_TYPE,
  serveDockerPlugin,
} from './server.js'
