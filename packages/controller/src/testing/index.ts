export { createMemorySandboxes, type MemorySandboxBackend, type MemorySandboxState } from './memory-sandboxes.js'
