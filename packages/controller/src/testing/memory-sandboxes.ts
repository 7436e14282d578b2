import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { Interface, StaticRoute } from '@cnm/driverapi'
import type { SandboxBackend, SandboxHandle } from '../sandboxes.js'

/** A sandbox of the in-memory backend: what a namespace would hold. */
export interface MemorySandboxState {
  interfaces: Map<string, Interface>
  gateway: string | undefined
  gatewayIPv6: string | undefined
  routes: StaticRoute[]
}

/** The in-memory backend, with its sandboxes by key (tests look in, or remove one behind its back). */
export interface MemorySandboxBackend extends SandboxBackend {
  readonly sandboxes: Map<string, MemorySandboxState>
}

const invalid = (message: string): Error =>
  Object.assign(new Error(message), { code: 'ERR_INVALID_SANDBOX_KEY', kind: 'invalid' })

/**
 * Sandboxes without namespaces, for running the controller's logic without root: each key is a
 * plain file (so the controller's directory scans see it) and its "interfaces" live in memory.
 * Several controllers in one process share a backend to play several processes on one host.
 */
export function createMemorySandboxes(dir: string): MemorySandboxBackend {
  const sandboxes = new Map<string, MemorySandboxState>()
  const handle = (key: string): SandboxHandle => {
    const state = (): MemorySandboxState => {
      const s = sandboxes.get(key)
      if (!s)
        throw Object.assign(new Error(`sandbox ${key} does not exist`), { code: 'ERR_NO_SANDBOX', kind: 'not-found' })
      return s
    }
    return {
      key,
      interfaces: () => [...(sandboxes.get(key)?.interfaces.values() ?? [])],
      async addInterface(i) {
        const s = state()
        if (s.interfaces.has(i.dstName)) {
          throw Object.assign(new Error(`interface ${i.dstName} exists in ${key}`), {
            code: 'EEXIST',
            kind: 'conflict',
          })
        }
        s.interfaces.set(i.dstName, { ...i })
      },
      async removeInterface(dstName) {
        state().interfaces.delete(dstName)
      },
      async setGateway(gw) {
        state().gateway = gw
      },
      async setGatewayIPv6(gw) {
        state().gatewayIPv6 = gw
      },
      async addStaticRoute(route) {
        state().routes.push(route)
      },
      close() {},
      async destroy() {
        sandboxes.delete(key)
        rmSync(key, { force: true })
      },
    }
  }
  return {
    defaultDir: dir,
    sandboxes,
    validateKey(key) {
      if (typeof key !== 'string' || !path.isAbsolute(key) || path.normalize(key) !== key) {
        throw invalid(`sandbox key ${JSON.stringify(key)} must be a normalized absolute path`)
      }
    },
    async create(key) {
      this.validateKey(key)
      if (sandboxes.has(key) || existsSync(key)) {
        throw Object.assign(new Error(`sandbox ${key} already exists`), {
          code: 'ERR_SANDBOX_EXISTS',
          kind: 'conflict',
        })
      }
      mkdirSync(path.dirname(key), { recursive: true })
      writeFileSync(key, '', { flag: 'wx' })
      sandboxes.set(key, { interfaces: new Map(), gateway: undefined, gatewayIPv6: undefined, routes: [] })
      return handle(key)
    },
    async open(key) {
      if (!sandboxes.has(key))
        throw Object.assign(new Error(`sandbox ${key} does not exist`), { code: 'ERR_NO_SANDBOX', kind: 'not-found' })
      return handle(key)
    },
    exists: (key) => sandboxes.has(key),
  }
}
