export {
  CONFORMANCE_CHECKS,
  type ConformanceCheck,
  type ConformanceContext,
  conformanceContext,
  type DriverHarness,
  describeDriver,
  disposeContext,
  runConformance,
} from './describe-driver.js'
export { createMemoryDriver, MEMORY_DRIVER_NAME, type MemoryDriverOptions } from './memory-driver.js'
export { createMemoryKernel, type MemoryKernel, type MemoryLink } from './memory-kernel.js'
