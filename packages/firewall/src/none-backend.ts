import type { Backend } from './backend.js'

/** The `none` backend: validates like the others, programs nothing, owns nothing. */
export function createNoneBackend(): Backend {
  const nothing = async (): Promise<void> => {}
  return {
    name: 'none',
    addNetwork: nothing,
    deleteNetwork: nothing,
    addPorts: nothing,
    deletePorts: nothing,
    inventory: async () => ({ backend: 'none', objects: [], networks: [], ports: [] }),
    verify: async () => ({ skeleton: [], networks: [], ports: [] }),
    repair: async () => ({ skeleton: [], networks: [], ports: [] }),
    flush: nothing,
  }
}
