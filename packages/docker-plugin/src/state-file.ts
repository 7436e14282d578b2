import { closeSync, constants, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import path from 'node:path'
import { DockerPluginError, ERR_DOCKER_STATE } from './errors.js'

/** What the plugin keeps of a Docker network beyond cnm's own records. */
export interface NetworkExtras {
  /** The default host address of its published ports (`host_binding_ipv4`). */
  hostBindingIPv4?: string
  /** Auxiliary addresses by subnet (reserved in the network's pool, never given to an endpoint). */
  aux?: Record<string, string[]>
}

/**
 * What the IPAM side handed to dockerd and dockerd has not given back yet: pools (`RequestPool`
 * until `ReleasePool`) by pool id, and addresses (`RequestAddress` until `ReleaseAddress`) by subnet.
 */
export interface IpamReservations {
  pools: string[]
  addresses: Record<string, string[]>
}

/** The plugin's state: the extras of each Docker network, by Docker network id; IPAM reservations. */
export interface PluginState {
  networks: Record<string, NetworkExtras>
  ipam?: IpamReservations
}

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string')

/** The recorded reservations, checked (a file another version wrote without them has none). */
function parseReservations(raw: unknown): IpamReservations {
  if (raw === undefined) return { pools: [], addresses: {} }
  const r = raw as Partial<IpamReservations> | null
  if (typeof r !== 'object' || r === null || !isStrings(r.pools)) throw new Error('"ipam.pools" is not a list')
  const addresses = r.addresses
  if (typeof addresses !== 'object' || addresses === null || !Object.values(addresses).every(isStrings)) {
    throw new Error('"ipam.addresses" is not a map of lists')
  }
  return { pools: r.pools, addresses }
}

/**
 * The plugin's few facts that cnm's store has no column for, in one JSON file (0600) that only
 * cnm writes: read once at start, replaced atomically (a new file created exclusively, never
 * through a symbolic link, synced, then renamed over the old one).
 */
export class StateFile {
  readonly file: string
  private state: PluginState

  constructor(file: string) {
    if (!path.isAbsolute(file))
      throw new DockerPluginError(ERR_DOCKER_STATE, `state file ${file} must be an absolute path`)
    this.file = file
    this.state = this.read()
  }

  private read(): PluginState {
    let fd: number
    try {
      fd = openSync(this.file, constants.O_RDONLY | constants.O_NOFOLLOW)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { networks: {}, ipam: { pools: [], addresses: {} } }
      throw new DockerPluginError(ERR_DOCKER_STATE, `state file ${this.file}: ${(err as Error).message}`, {
        cause: err,
      })
    }
    try {
      const parsed = JSON.parse(readFileSync(fd, 'utf8')) as Partial<PluginState>
      const networks = parsed.networks
      if (typeof networks !== 'object' || networks === null) throw new Error('no "networks" object')
      return { networks, ipam: parseReservations(parsed.ipam) }
    } catch (err) {
      throw new DockerPluginError(
        ERR_DOCKER_STATE,
        `state file ${this.file} is not the plugin's state: ${(err as Error).message}`,
        {
          cause: err,
        },
      )
    } finally {
      closeSync(fd)
    }
  }

  private write(next: PluginState, durable = true): void {
    const tmp = `${this.file}.${process.pid}.tmp`
    try {
      const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600)
      try {
        writeSync(fd, `${JSON.stringify(next)}\n`)
        if (durable) fsyncSync(fd)
      } finally {
        closeSync(fd)
      }
      renameSync(tmp, this.file)
    } catch (err) {
      try {
        unlinkSync(tmp)
      } catch {}
      throw new DockerPluginError(ERR_DOCKER_STATE, `state file ${this.file}: ${(err as Error).message}`, {
        cause: err,
      })
    }
    this.state = next
  }

  /** A network's extras (empty when it has none). */
  network(nid: string): NetworkExtras {
    return this.state.networks[nid] ?? {}
  }

  /** Every network's extras. */
  networks(): Readonly<Record<string, NetworkExtras>> {
    return this.state.networks
  }

  /** Records a network's extras (nothing is written when it has none and had none). */
  setNetwork(nid: string, extras: NetworkExtras): void {
    const empty = extras.hostBindingIPv4 === undefined && Object.keys(extras.aux ?? {}).length === 0
    if (empty && !(nid in this.state.networks)) return
    const networks = { ...this.state.networks }
    if (empty) delete networks[nid]
    else networks[nid] = extras
    this.write({ ...this.state, networks })
  }

  /** The IPAM reservations recorded. */
  reservations(): Readonly<IpamReservations> {
    return this.state.ipam ?? { pools: [], addresses: {} }
  }

  /**
   * Records the IPAM reservations (written before the answer reaches dockerd), without an fsync:
   * the rename is atomic and a crash of cnm keeps the kernel's page cache; what only a power loss
   * could lose, reservations of containers that are gone with it, dockerd asks for again.
   */
  setReservations(ipam: IpamReservations): void {
    this.write({ ...this.state, ipam }, false)
  }

  /** Drops a network's extras. */
  deleteNetwork(nid: string): void {
    this.setNetwork(nid, {})
  }
}
