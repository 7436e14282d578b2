export { type MemoryControllerFixture, memoryControllerFixture } from './memory-controller.js'
export { createMemorySandboxes, type MemorySandboxBackend, type MemorySandboxState } from './memory-sandboxes.js'
