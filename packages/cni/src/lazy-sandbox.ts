import type { SandboxHandle } from '@cnm/controller'
import type { Interface, StaticRoute } from '@cnm/driverapi'
import { openSandbox, type Sandbox } from '@cnm/sandbox'

/**
 * The runtime's namespace as the controller's join sees it: opened on first use and closed by
 * `release()` when the CNI operation ends, so the daemon never keeps a socket inside a container's
 * namespace (an open socket would keep a deleted namespace, and its veth, alive).
 */
export interface LazySandbox extends SandboxHandle {
  release(): void
}

export function lazySandbox(key: string): LazySandbox {
  let inner: Sandbox | undefined
  let cached: Interface[] = []
  const get = async (): Promise<Sandbox> => {
    inner ??= await openSandbox(key)
    return inner
  }
  return {
    key,
    interfaces: () => inner?.interfaces() ?? cached.map((i) => ({ ...i })),
    addInterface: async (i: Interface) => (await get()).addInterface(i),
    async removeInterface(dstName: string, options?: { returnTo?: { name: string }; discard?: boolean }) {
      const sb = await get()
      if (!sb.interfaces().some((i) => i.dstName === dstName)) return // gone already
      await sb.removeInterface(dstName, options)
    },
    setGateway: async (gw: string) => (await get()).setGateway(gw),
    setGatewayIPv6: async (gw: string) => (await get()).setGatewayIPv6(gw),
    addStaticRoute: async (r: StaticRoute) => (await get()).addStaticRoute(r),
    close() {
      this.release()
    },
    release() {
      if (!inner) return
      cached = inner.interfaces()
      inner.close()
      inner = undefined
    },
    async destroy() {
      // The namespace is the runtime's: cnm never removes it.
      this.release()
    },
  }
}
