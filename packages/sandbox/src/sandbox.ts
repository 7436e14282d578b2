import { existsSync, unlinkSync } from 'node:fs'
import { hasErrorCode, type Interface, type StaticRoute } from '@cnm/driverapi'
import { tryParseAddress } from '@cnm/ip'
import {
  createNetns,
  deleteNetns,
  type Handle,
  isNetnsMounted,
  type Link,
  openHandle,
  validateInterfaceName,
} from '@cnm/netlink'
import { addInterfaceSteps, type InterfaceOrigin } from './add-interface.js'
import {
  ERR_INVALID_GATEWAY,
  ERR_NO_INTERFACE,
  ERR_NO_SANDBOX,
  ERR_SANDBOX_DESTROYED,
  ERR_SANDBOX_EXISTS,
  SandboxError,
} from './errors.js'
import { parseInterface } from './interface-spec.js'
import { validateSandboxKey } from './sandbox-key.js'

/** A container's network namespace, bound at `key`. */
export interface Sandbox {
  readonly key: string
  /** The interfaces added through this object (or found inside when it was opened). */
  interfaces(): Interface[]
  /**
   * Puts an interface in the sandbox and configures it: a link named `i.srcName` in the host's
   * namespace is moved in (one a driver created inside already is used where it is), renamed to
   * `i.dstName`, given its MAC, MTU and addresses (`i.address`, `i.addressIPv6` in CIDR form), and
   * brought up, with gratuitous ARP / unsolicited neighbour advertisements for its addresses. A step
   * that fails undoes the earlier ones, so the link is left where and as it was.
   *
   * Throws `ERR_INVALID_INTERFACE` for a bad specification (before anything changes), `EEXIST` when
   * `dstName` was already added, `ENODEV` when `srcName` exists nowhere, and `ERR_SANDBOX_DESTROYED`
   * after `close()`.
   *
   * @example
   * ```ts
   * await sandbox.addInterface({ srcName: 'veth1a2b', dstName: 'eth0', address: '10.20.0.2/24' })
   * ```
   */
  addInterface(i: Interface): Promise<void>
  /**
   * Undoes `addInterface`: an interface moved in from the host goes back there under its `srcName`
   * (down, without its addresses); one created inside is deleted. `returnTo` forces the first way
   * — for a sandbox opened afresh, which cannot know where an interface came from. `discard`
   * deletes the interface where it is, wherever it came from (a veth's peer goes with it): for a
   * caller that deletes the endpoint next, it spares the move back, which costs the kernel as much
   * as the deletion (~20 ms here).
   */
  removeInterface(dstName: string, options?: RemoveInterfaceOptions): Promise<void>
  /**
   * Adds the sandbox's IPv4 default route via `gw` (an IPv4 address on a connected subnet, so add the
   * interface first). Throws `ERR_INVALID_GATEWAY` for anything but an IPv4 address, `EEXIST` when a
   * default route is there already, and `ENETUNREACH` when no interface's
   * subnet holds `gw`.
   */
  setGateway(gw: string): Promise<void>
  /**
   * Adds the sandbox's IPv6 default route via `gw` (an IPv6 address reachable from an interface).
   * Throws `ERR_INVALID_GATEWAY` for anything but an IPv6 address, `EEXIST` when a default route is
   * there already, and `EHOSTUNREACH` when no interface reaches `gw`.
   */
  setGatewayIPv6(gw: string): Promise<void>
  /**
   * Adds one route inside the sandbox: `route.destination` (a CIDR) via `route.nextHop`, or directly
   * through `route.interfaceName` when no next hop is given. Kernel failures keep their errno name
   * (`EEXIST` for a route that exists).
   */
  addStaticRoute(route: StaticRoute): Promise<void>
  /** Closes the sandbox's handle without removing the namespace. */
  close(): void
  /** Removes the namespace (unmount + unlink); idempotent. */
  destroy(): Promise<void>
}

/** How {@link Sandbox.removeInterface} takes an interface out. */
export interface RemoveInterfaceOptions {
  /** Move it back to the host under this name (a sandbox opened afresh cannot know it came from there). */
  returnTo?: { name: string }
  /** Delete it where it is instead (its veth peer goes too); wins over `returnTo`. */
  discard?: boolean
}

interface Entry {
  iface: Interface
  origin: InterfaceOrigin
  /** Found in the kernel by `openSandbox` (a driver made it there): `addInterface` may configure it. */
  discovered?: boolean
}

/** Creates a persistent network namespace at `key` with loopback up. */
export async function newSandbox(key: string): Promise<Sandbox> {
  validateSandboxKey(key)
  if (existsSync(key)) throw new SandboxError(ERR_SANDBOX_EXISTS, `sandbox ${key} already exists`)
  try {
    await createNetns(key)
  } catch (cause) {
    if (hasErrorCode(cause, 'EEXIST')) {
      throw new SandboxError(ERR_SANDBOX_EXISTS, `sandbox ${key} already exists`, { cause })
    }
    throw cause
  }
  let handle: Handle | undefined
  try {
    handle = await openHandle({ netns: key })
    await handle.setLinkUp('lo')
    return makeSandbox(key, handle, [])
  } catch (err) {
    handle?.close() // an open socket would keep the namespace alive after the unmount
    deleteNetns(key)
    throw err
  }
}

/** Whether a sandbox (a bound network namespace) exists at `key`. */
export function sandboxExists(key: string): boolean {
  validateSandboxKey(key)
  return isNetnsMounted(key)
}

/** Opens an existing sandbox; its interfaces are read back from the kernel. */
export async function openSandbox(key: string): Promise<Sandbox> {
  validateSandboxKey(key)
  if (!isNetnsMounted(key)) throw new SandboxError(ERR_NO_SANDBOX, `sandbox ${key} does not exist`)
  const handle = await openHandle({ netns: key })
  try {
    const links = (await handle.listLinks()).filter((l) => l.name !== 'lo')
    const entries: Entry[] = []
    for (const link of links) entries.push({ iface: await describe(handle, link), origin: 'sandbox', discovered: true })
    return makeSandbox(key, handle, entries)
  } catch (err) {
    handle.close()
    throw err
  }
}

async function describe(handle: Handle, link: Link): Promise<Interface> {
  const addrs = (await handle.listAddresses(link.name)).filter(
    (a) => !(a.family === 6 && a.address.startsWith('fe80:')),
  )
  const v4 = addrs.find((a) => a.family === 4)
  const v6 = addrs.find((a) => a.family === 6)
  return {
    srcName: link.name,
    dstName: link.name,
    ...(v4 ? { address: v4.cidr } : {}),
    ...(v6 ? { addressIPv6: v6.cidr } : {}),
    ...(link.mac ? { macAddress: link.mac } : {}),
    mtu: link.mtu,
  }
}

function makeSandbox(key: string, handle: Handle, initial: Entry[]): Sandbox {
  const entries = new Map<string, Entry>(initial.map((e) => [e.iface.dstName, e]))
  let host: Handle | undefined
  let closed = false
  const live = (): Handle => {
    if (closed) throw new SandboxError(ERR_SANDBOX_DESTROYED, `sandbox ${key} is closed`)
    return handle
  }
  const hostHandle = async (): Promise<Handle> => {
    host ??= await openHandle()
    return host
  }
  const close = (): void => {
    if (closed) return
    closed = true
    handle.close()
    host?.close()
  }
  return {
    key,
    interfaces: () => [...entries.values()].map((e) => ({ ...e.iface })),
    async addInterface(raw) {
      const i = parseInterface(raw)
      const h = live()
      if (entries.has(i.dstName) && !entries.get(i.dstName)?.discovered) {
        throw new SandboxError('EEXIST', `interface ${i.dstName} already exists in sandbox ${key}`)
      }
      const origin = await addInterfaceSteps(h, await hostHandle(), key, i)
      entries.set(i.dstName, { iface: i, origin })
    },
    async removeInterface(dstName, options) {
      const h = live()
      const entry = entries.get(dstName)
      if (!entry) throw new SandboxError(ERR_NO_INTERFACE, `interface ${dstName} is not in sandbox ${key}`)
      if (options?.returnTo) {
        validateInterfaceName(options.returnTo.name)
        entry.iface = { ...entry.iface, srcName: options.returnTo.name }
        entry.origin = 'host'
      }
      if (entry.origin === 'sandbox' || options?.discard) {
        await h.deleteLink(dstName)
      } else {
        await h.setLinkUp(dstName, false)
        for (const a of [entry.iface.address, entry.iface.addressIPv6])
          if (a) await h.deleteAddress(dstName, a).catch(() => {})
        if (dstName !== entry.iface.srcName) await h.renameLink(dstName, entry.iface.srcName)
        await h.moveLink(entry.iface.srcName, (await hostHandle()).nsPath)
      }
      entries.delete(dstName)
    },
    setGateway: async (gw) => {
      const ip = tryParseAddress(gw)
      if (ip?.family !== 4)
        throw new SandboxError(ERR_INVALID_GATEWAY, `invalid IPv4 gateway ${JSON.stringify(gw)} for sandbox ${key}`)
      await live().addRoute({ destination: 'default', gateway: ip.text })
    },
    setGatewayIPv6: async (gw) => {
      const ip = tryParseAddress(gw)
      if (ip?.family !== 6)
        throw new SandboxError(ERR_INVALID_GATEWAY, `invalid IPv6 gateway ${JSON.stringify(gw)} for sandbox ${key}`)
      await live().addRoute({ destination: 'default', gateway: ip.text })
    },
    addStaticRoute: (r) =>
      live().addRoute({
        destination: r.destination,
        ...(r.nextHop ? { gateway: r.nextHop } : {}),
        ...(r.interfaceName ? { interfaceName: r.interfaceName } : {}),
      }),
    close,
    async destroy() {
      close()
      if (isNetnsMounted(key)) deleteNetns(key)
      else if (existsSync(key)) unlinkSync(key)
    },
  }
}
