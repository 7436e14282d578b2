import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createMemoryDriver, createMemoryKernel, type MemoryKernel } from '@cnm/driverapi/testing'
import { createController } from '../controller.js'
import { createMemorySandboxes, type MemorySandboxBackend } from './memory-sandboxes.js'

/** What {@link createController} gives. */
type Controller = Awaited<ReturnType<typeof createController>>

/** A root-free controller fixture: the in-memory driver (`memory`) and sandboxes, a store in a temporary directory. */
export interface MemoryControllerFixture {
  /** The temporary directory of this test (the store is `cnm.db` in it). */
  readonly dir: string
  /** The memory driver's kernel (links, failures to inject). */
  readonly kernel: MemoryKernel
  /** The in-memory sandbox backend (namespaces under `dir/netns`). */
  readonly sandboxes: MemorySandboxBackend
  /** A fresh directory, kernel and sandbox backend: call before each test. */
  setUp(): void
  /** Closes every controller opened and removes the directory: call after each test. */
  tearDown(): Promise<void>
  /** A controller on this test's store (another one on the same store is another process's view). */
  controller(): Promise<Controller>
}

/** The fixture; `prefix` names its temporary directories (`cnm-<prefix>-…`). */
export function memoryControllerFixture(prefix: string): MemoryControllerFixture {
  let state: { dir: string; kernel: MemoryKernel; sandboxes: MemorySandboxBackend } | undefined
  const open: Controller[] = []
  const current = () => {
    if (!state) throw new Error('memoryControllerFixture: setUp() first')
    return state
  }
  return {
    get dir() {
      return current().dir
    },
    get kernel() {
      return current().kernel
    },
    get sandboxes() {
      return current().sandboxes
    },
    setUp() {
      const dir = mkdtempSync(path.join(tmpdir(), `cnm-${prefix}-`))
      state = { dir, kernel: createMemoryKernel(), sandboxes: createMemorySandboxes(path.join(dir, 'netns')) }
    },
    async tearDown() {
      for (const c of open.splice(0)) await c.close().catch(() => undefined)
      if (state) rmSync(state.dir, { recursive: true, force: true })
      state = undefined
    },
    async controller() {
      const { dir, kernel, sandboxes } = current()
      const c = await createController({
        storePath: path.join(dir, 'cnm.db'),
        sandboxBackend: sandboxes,
        drivers: { memory: ({ owner }) => createMemoryDriver({ kernel, owner }) },
      })
      open.push(c)
      return c
    },
  }
}
