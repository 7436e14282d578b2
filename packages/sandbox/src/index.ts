export {
  ERR_INVALID_GATEWAY,
  ERR_INVALID_INTERFACE,
  ERR_INVALID_SANDBOX_KEY,
  ERR_NO_INTERFACE,
  ERR_NO_SANDBOX,
  ERR_SANDBOX_DESTROYED,
  ERR_SANDBOX_EXISTS,
  SandboxError,
} from './errors.js'
export { parseInterface } from './interface-spec.js'
export { newSandbox, openSandbox, type RemoveInterfaceOptions, type Sandbox, sandboxExists } from './sandbox.js'
export { DEFAULT_SANDBOX_DIR, sandboxKeyFor, validateSandboxKey } from './sandbox-key.js'
