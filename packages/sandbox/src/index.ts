export { ERR_INVALID_SANDBOX_KEY, SandboxError } from './errors.js'
export { DEFAULT_SANDBOX_DIR, sandboxKeyFor, validateSandboxKey } from './sandbox-key.js'
