export { busyboxRootfsTar, type NamespaceHolder, type Out, startNamespaceHolder } from './holder.js'
export { type Call, PLUGIN_BIN, type PluginResult, runPlugin } from './plugin.js'
export { REFERENCE_PLUGINS, runReference } from './reference.js'
export { type CniTestState, createCniTestState, unbindAll } from './state.js'
