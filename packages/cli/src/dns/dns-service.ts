import { readFileSync, statSync } from 'node:fs'
import type { ControllerChange, JoinedEndpoint, NetworkController, Sandbox } from '@cnm/controller'
import {
  createDnsServer,
  createDnsServerThread,
  type DnsServer,
  type DnsServerThread,
  holdUdpLoops,
  parseResolvConf,
  type ResolvConf,
  renderHosts,
  renderResolvConf,
  sandboxResolvConf,
  tryNormalizeName,
} from '@cnm/dns'
import { isLoopback, tryParseAddress } from '@cnm/ip'
import { DNS_DOMAIN, type DnsPlan, dnsEntryOf, dnsPlanOf } from './dns-plan.js'
import { createResolverFiles, type ResolverFiles } from './resolver-files.js'
import { scopedEntriesOf } from './scoped-entries.js'

/** A sandbox's resolver configuration (what `GET /v1/sandboxes/{sandbox}/resolver` answers). */
export interface SandboxResolver {
  sandbox: string
  dns: boolean
  nameservers: string[]
  search: string[]
  options: string[]
  resolvConf: string
  hosts: string
  files?: { resolvConf: string; hosts: string }
}

/** Options of {@link createDnsService}. */
export interface DnsServiceOptions {
  controller: NetworkController
  /** Where each sandbox's resolv.conf and hosts are written (a directory cnm owns). */
  resolverDir: string
  /** Run each network's server on a worker thread of its own (default: on the daemon's event loop). */
  thread?: boolean
  /** The host's resolv.conf: upstreams (followed) and the options sandboxes inherit. */
  hostResolvConf?: string
  /** Port of the servers (53; tests may pick another). */
  port?: number
  /** Where problems are reported (a server that cannot start: its network has no DNS). */
  warn?: (message: string) => void
}

type Server = DnsServer | DnsServerThread

interface Running {
  plan: DnsPlan
  server: Promise<Server | undefined>
}

/** The daemon's DNS: a server per network that wants one, its names kept in step with the controller. */
export interface DnsService {
  /** Resolves once every change so far is visible to queries (servers started, names applied). */
  settle(): Promise<void>
  /** A sandbox's resolver configuration; its files are (re)written first. */
  resolver(sandbox: Sandbox): SandboxResolver
  /** The networks (ids) with a running server, and where they listen. */
  servers(): { networkId: string; addresses: string[] }[]
  /**
   * Holds every server's native UDP loop until the returned release is called (at most
   * `HOLD_MAX_MS` of `@cnm/dns`; a no-op with no server running or `CNM_DNS_HOLD=0`).
   */
  hold(): () => void
  /** Stops the servers and the listener; the sandboxes' resolver files stay (the next start checks them). */
  close(): Promise<void>
}

const errorText = (err: unknown): string => (err as Error)?.message ?? String(err)

/** The host's resolv.conf as a sandbox without a cnm DNS server gets it: loopback servers cannot be reached from there. */
function hostForSandbox(host: ResolvConf): ResolvConf {
  return {
    ...host,
    nameservers: host.nameservers.filter((ns) => {
      const a = tryParseAddress(ns.split('%')[0] ?? ns)
      return a !== undefined && !isLoopback(a)
    }),
  }
}

/**
 * Starts the DNS service of a daemon: a server for every network `dnsPlanOf` accepts, and a
 * listener of the controller's changes that adds an endpoint's names when it joins a sandbox and
 * removes them when it leaves (before the API answers: the service's `settle`). Resolves once it
 * follows the controller's changes; the servers of the networks that exist start meanwhile (`settle`
 * waits for them too).
 */
export async function createDnsService(options: DnsServiceOptions): Promise<DnsService> {
  const c = options.controller
  const hostFile = options.hostResolvConf ?? '/etc/resolv.conf'
  const warn = options.warn ?? (() => undefined)
  const files: ResolverFiles = createResolverFiles(options.resolverDir)
  const running = new Map<string, Running>()
  const joined = new Map<string, JoinedEndpoint>()
  // The joined endpoints by sandbox and by network (a change looks at its sandbox and network only).
  const bySandbox = new Map<string, Map<string, JoinedEndpoint>>()
  const byNetwork = new Map<string, Map<string, JoinedEndpoint>>()
  /** Ids of the scoped entries (sandboxes on several networks) set, by sandbox, then by the network whose table holds them. */
  const scoped = new Map<string, Map<string, Set<string>>>()
  const group = (m: Map<string, Map<string, JoinedEndpoint>>, k: string): Map<string, JoinedEndpoint> => {
    let g = m.get(k)
    if (!g) {
      g = new Map()
      m.set(k, g)
    }
    return g
  }
  const ungroup = (m: Map<string, Map<string, JoinedEndpoint>>, k: string, id: string): void => {
    const g = m.get(k)
    if (g?.delete(id) && g.size === 0) m.delete(k)
  }
  const addJoined = (ep: JoinedEndpoint): void => {
    const old = joined.get(ep.id)
    if (old) removeJoined(old.id)
    joined.set(ep.id, ep)
    group(bySandbox, ep.sandbox.id).set(ep.id, ep)
    group(byNetwork, ep.networkId).set(ep.id, ep)
  }
  const removeJoined = (id: string): JoinedEndpoint | undefined => {
    const ep = joined.get(id)
    if (!ep) return undefined
    joined.delete(id)
    ungroup(bySandbox, ep.sandbox.id, id)
    ungroup(byNetwork, ep.networkId, id)
    return ep
  }
  let pending: Promise<unknown> = Promise.resolve()
  let closed = false
  // Everything started so far, as one promise (resolving to nothing: no chain of results is kept).
  const track = <T>(p: Promise<T>): Promise<T> => {
    pending = Promise.all([pending, p.catch(() => undefined)]).then(() => undefined)
    return p
  }

  // The host's resolv.conf, read again only when the file changed (every join writes a sandbox's files).
  let hostRead: { stamp: string; conf: ResolvConf } | undefined
  const readHost = (): ResolvConf => {
    try {
      const st = statSync(hostFile)
      const stamp = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`
      if (hostRead?.stamp !== stamp) hostRead = { stamp, conf: parseResolvConf(readFileSync(hostFile, 'utf8')) }
      return hostRead.conf
    } catch {
      hostRead = undefined
      return { nameservers: [], search: [], options: [] }
    }
  }

  const start = (plan: DnsPlan): Running => {
    const make = options.thread === true ? createDnsServerThread : createDnsServer
    const server = make({
      addresses: plan.addresses,
      port: options.port ?? 53,
      domain: DNS_DOMAIN,
      subnets: plan.subnets,
      forward: plan.forward,
      resolvConf: hostFile,
    }).then(
      (s: Server) => {
        // Names of endpoints that joined while it started.
        for (const ep of joined.values()) {
          const entry = ep.networkId === plan.networkId ? dnsEntryOf(ep) : undefined
          if (entry) s.names.set(entry)
        }
        return s
      },
      (err: unknown) => {
        warn(`network ${plan.networkName}: no DNS server on ${plan.addresses.join(', ')}: ${errorText(err)}`)
        return undefined
      },
    )
    const r = { plan, server }
    running.set(plan.networkId, r)
    track(server)
    return r
  }

  const stop = (networkId: string): void => {
    const r = running.get(networkId)
    if (!r) return
    running.delete(networkId)
    track(r.server.then((s) => s?.close()))
    if (closed) return // every server stops: nothing to keep current
    // Its table went with its server; the others lose what they held of its endpoints.
    for (const tables of scoped.values()) tables.delete(networkId)
    for (const sandboxId of new Set([...(byNetwork.get(networkId)?.values() ?? [])].map((e) => e.sandbox.id))) {
      refreshScopedOf(sandboxId)
    }
  }

  const withServer = (networkId: string, fn: (s: Server) => void): void => {
    const r = running.get(networkId)
    if (!r) return
    track(r.server.then((s) => s && fn(s)))
  }

  const setEntry = (ep: JoinedEndpoint): void => {
    const entry = dnsEntryOf(ep)
    withServer(ep.networkId, (s) => {
      if (entry) s.names.set(entry)
      else s.names.delete(ep.id)
    })
  }

  /** Sets the scoped entries one sandbox needs now in each table, deletes those it no longer does. */
  function refreshScopedOf(sandboxId: string): void {
    const eps = [...(bySandbox.get(sandboxId)?.values() ?? [])].filter((e) => running.has(e.networkId))
    const want = scopedEntriesOf(eps, (id) => byNetwork.get(id)?.values() ?? [])
    const had = scoped.get(sandboxId)
    const now = new Map<string, Set<string>>()
    for (const networkId of new Set([...(had?.keys() ?? []), ...want.keys()])) {
      const entries = want.get(networkId) ?? []
      const ids = new Set(entries.map((e) => e.id))
      const stale = [...(had?.get(networkId) ?? [])].filter((id) => !ids.has(id))
      if (ids.size > 0) now.set(networkId, ids)
      if (entries.length === 0 && stale.length === 0) continue
      withServer(networkId, (s) => {
        for (const id of stale) s.names.delete(id)
        for (const e of entries) s.names.set(e)
      })
    }
    if (now.size > 0) scoped.set(sandboxId, now)
    else scoped.delete(sandboxId)
  }

  /**
   * After an endpoint of `sandboxId` joined or left `networkId`: the scoped entries of that sandbox,
   * and of every sandbox on that network that is on another one too (they see its endpoints).
   */
  const refreshScopedAround = (sandboxId: string, networkId: string): void => {
    const affected = new Set([sandboxId])
    for (const e of byNetwork.get(networkId)?.values() ?? []) {
      const id = e.sandbox.id
      if ((bySandbox.get(id)?.size ?? 0) > 1 || scoped.has(id)) affected.add(id)
    }
    for (const id of affected) refreshScopedOf(id)
  }

  const startNetwork = (networkId: string): void => {
    if (running.has(networkId)) return
    const net = c.networkByID(networkId)
    const plan = net ? dnsPlanOf(net.inspect()) : undefined
    if (plan) start(plan)
  }

  /**
   * Every sandbox's resolver files checked (rewritten where they changed), and those of sandboxes
   * that are gone removed: at once, or (`later`, at start) a few hundred per turn of the event loop
   * after the daemon answers. The files of the last run are still there and current, unless the
   * host's resolv.conf changed meanwhile; a join rewrites its sandbox's files itself either way.
   */
  const refreshAllFiles = (later: boolean): void => {
    const work = (): string[] => {
      const sandboxes = new Set(c.sandboxes().map((s) => s.id))
      const had = files.list()
      for (const id of had) if (!sandboxes.has(id)) files.remove(id)
      // Joined sandboxes, and those with files but no network now (they name the host's servers).
      return [...new Set([...bySandbox.keys(), ...had.filter((id) => sandboxes.has(id))])]
    }
    if (!later) {
      for (const id of work()) refreshFiles(id)
      return
    }
    let ids: string[] | undefined
    const step = (): void => {
      if (closed) return
      try {
        ids ??= work()
        for (const id of ids.splice(0, 250)) refreshFiles(id)
      } catch (err) {
        warn(`resolver files: ${errorText(err)}`)
        return
      }
      if (ids.length > 0) setImmediate(step)
    }
    setImmediate(step)
  }

  /** Everything again from the controller's tables (at start, and after a reload from the store). */
  const rebuild = (filesLater = false): void => {
    const wanted = new Map<string, DnsPlan>()
    const now = new Map<string, JoinedEndpoint>()
    for (const net of c.networks()) {
      let inspect: ReturnType<typeof net.inspect>
      try {
        inspect = net.inspect()
      } catch (err) {
        warn(`network ${net.name}: its names are not served: ${errorText(err)}`)
        continue
      }
      const plan = dnsPlanOf(inspect)
      if (plan) wanted.set(net.id, plan)
      for (const e of inspect.endpoints) {
        const sb = e.joined ? c.sandboxByID(e.joined.sandboxId) : undefined
        if (!sb) continue
        const bare = (a: string | undefined): string | undefined => a?.split('/')[0]
        const iface = e.sandboxInfo.interfaces[0]
        now.set(e.id, {
          id: e.id,
          name: e.name,
          networkId: net.id,
          aliases: e.aliases,
          ipv4: bare(iface?.address),
          ipv6: bare(iface?.addressIPv6),
          sandbox: { id: sb.id, containerID: sb.containerID, name: sb.name, key: sb.key },
        })
      }
    }
    for (const id of [...running.keys()]) if (!wanted.has(id)) stop(id)
    for (const [id, plan] of wanted) if (!running.has(id)) start(plan)
    for (const [id, ep] of joined) {
      if (!now.has(id)) withServer(ep.networkId, (s) => void s.names.delete(id))
    }
    const before = [...bySandbox.keys()]
    joined.clear()
    bySandbox.clear()
    byNetwork.clear()
    for (const ep of now.values()) {
      addJoined(ep)
      setEntry(ep)
    }
    for (const id of new Set([...before, ...scoped.keys(), ...bySandbox.keys()])) refreshScopedOf(id)
    refreshAllFiles(filesLater)
  }

  /** The resolver configuration of a sandbox: its first network with a DNS server, else the host's servers. */
  const resolverOf = (sandboxId: string, containerID: string, name: string | undefined): SandboxResolver => {
    const eps = [...(bySandbox.get(sandboxId)?.values() ?? [])]
    const served = eps.find((e) => running.has(e.networkId))
    const host = readHost()
    const conf = served
      ? sandboxResolvConf({
          servers: (running.get(served.networkId) as Running).plan.addresses,
          domain: DNS_DOMAIN,
          host,
        })
      : hostForSandbox(host)
    const candidates = [name, containerID.slice(0, 12), ...eps.map((e) => e.name)]
    const hostname = candidates.find((n) => n !== undefined && tryNormalizeName(n) !== undefined) ?? 'sandbox'
    const addresses = eps.flatMap((e) => [e.ipv4, e.ipv6]).filter((a): a is string => a !== undefined)
    const comment = served
      ? `written by cnm: the DNS server of network ${(running.get(served.networkId) as Running).plan.networkName}`
      : "written by cnm: the host's name servers (no network of this sandbox has a cnm DNS server)"
    return {
      sandbox: sandboxId,
      dns: served !== undefined,
      nameservers: [...conf.nameservers],
      search: [...conf.search],
      options: [...conf.options],
      resolvConf: renderResolvConf(conf, comment),
      hosts: renderHosts({ hostname, addresses, ...(served ? { domain: DNS_DOMAIN } : {}) }),
    }
  }

  const refreshFiles = (sandboxId: string): void => {
    const sb = c.sandboxByID(sandboxId)
    if (!sb) {
      files.remove(sandboxId)
      return
    }
    const r = resolverOf(sb.id, sb.containerID, sb.name)
    try {
      files.write(sb.id, r)
    } catch (err) {
      warn(`sandbox ${sb.containerID}: cannot write its resolver files: ${errorText(err)}`)
    }
  }

  const onChange = (change: ControllerChange): void => {
    if (closed) return
    switch (change.type) {
      case 'network':
        if (change.action === 'create') startNetwork(change.id)
        else stop(change.id)
        return
      case 'join':
        addJoined(change.endpoint)
        setEntry(change.endpoint)
        refreshScopedAround(change.endpoint.sandbox.id, change.endpoint.networkId)
        refreshFiles(change.endpoint.sandbox.id)
        return
      case 'leave': {
        const ep = removeJoined(change.endpointId)
        withServer(change.networkId, (s) => void s.names.delete(change.endpointId))
        if (ep) {
          refreshScopedAround(ep.sandbox.id, change.networkId)
          refreshFiles(ep.sandbox.id)
        }
        return
      }
      case 'sandbox':
        files.remove(change.id)
        return
      case 'sync':
        rebuild()
        return
    }
  }

  rebuild(true)
  const off = c.onChange(onChange)
  // The servers of the networks there are bind meanwhile: the daemon answers without waiting for
  // them, and every change the API makes waits for them (settle) before it is answered.

  const settleServers = async (): Promise<void> => {
    let seen: Promise<unknown>
    do {
      seen = pending
      await seen
    } while (seen !== pending)
    const threads = await Promise.all([...running.values()].map((r) => r.server))
    await Promise.all(threads.map((s) => (s && 'synced' in s ? s.synced().catch(() => undefined) : undefined)))
  }

  return {
    settle: settleServers,
    resolver(sandbox) {
      const r = resolverOf(sandbox.id, sandbox.containerID, sandbox.name)
      const { resolvConf, hosts } = files.write(sandbox.id, r)
      return { ...r, files: { resolvConf, hosts } }
    },
    servers: () => [...running.values()].map((r) => ({ networkId: r.plan.networkId, addresses: r.plan.addresses })),
    hold: () => (running.size > 0 ? holdUdpLoops() : () => {}),
    async close() {
      if (closed) return
      closed = true
      off()
      for (const id of [...running.keys()]) stop(id)
      await settleServers().catch(() => undefined)
      // The sandboxes' resolver files stay, as Docker's resolv.conf does across a daemon restart:
      // bind-mounted in running sandboxes, they are the next start's to check (unchanged ones are
      // not written again) and to remove for sandboxes that are gone.
    },
  }
}
