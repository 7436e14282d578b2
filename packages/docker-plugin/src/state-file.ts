import {
  closeSync,
  constants,
  fsyncSync,
  ftruncateSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs'
import path from 'node:path'
import { DockerPluginError, ERR_DOCKER_STATE } from './errors.js'
import { isDockerId } from './names.js'
import { appendReservationChanges, journalFile, replayReservationJournal } from './reservation-journal.js'
import { checkOwnFile, checkStateDir, removeStaleTemps, tempName } from './state-dir.js'
import { parseNetworkExtras, parsePluginState } from './state-entries.js'

/** What the plugin keeps of a Docker network beyond cnm's own records. */
export interface NetworkExtras {
  /** The default host address of its published ports (`host_binding_ipv4`). */
  hostBindingIPv4?: string
  /** Auxiliary addresses by subnet (reserved in the network's pool, never given to an endpoint). */
  aux?: Record<string, string[]>
  /** What its containers' interfaces are named (`com.docker.network.container_iface_prefix`; default `eth`). */
  ifacePrefix?: string
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

/** Journal lines after which the reservations are folded into the state file again. */
const JOURNAL_LINES = 512

/**
 * The plugin's few facts that cnm's store has no column for, in one JSON file (0600) that only
 * cnm writes: read once at start, replaced atomically (a new file of a random name created
 * exclusively, never through a symbolic link, synced, then renamed over the old one). At start the
 * directory must be one only cnm can write, the file (and its journal) cnm's own and not writable
 * by group or others, and every entry what cnm writes (state-entries.ts); else the file is refused
 * with `ERR_DOCKER_STATE` (kind `invalid`), naming the entry and the file. IPAM reservations,
 * which change on every container's start and stop, are appended to a journal beside it instead
 * (one `write` of a line, not a file replaced: see reservation-journal.ts), folded back into the
 * file at start, with any other change, and every {@link JOURNAL_LINES} lines.
 */
export class StateFile {
  readonly file: string
  private state: PluginState
  private journalLines = 0

  constructor(file: string) {
    if (!path.isAbsolute(file))
      throw new DockerPluginError(ERR_DOCKER_STATE, `state file ${file} must be an absolute path`)
    this.file = file
    checkStateDir(path.dirname(file))
    removeStaleTemps(file)
    const read = this.read()
    const journal = replayReservationJournal(journalFile(file), read.ipam ?? { pools: [], addresses: {} })
    this.state = { ...read, ipam: journal.reservations }
    // What the journal held goes into the file now: the journal starts empty (a torn last line
    // too, so that the next line is not appended onto it).
    if (journal.lines > 0 || journal.torn) this.write(this.state, false)
  }

  private read(): PluginState {
    let fd: number
    try {
      // O_NONBLOCK: a FIFO there is opened (and refused) at once instead of blocking the thread.
      fd = openSync(this.file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { networks: {}, ipam: { pools: [], addresses: {} } }
      throw new DockerPluginError(ERR_DOCKER_STATE, `state file ${this.file}: ${(err as Error).message}`, {
        cause: err,
      })
    }
    try {
      checkOwnFile(fd, `the state file ${this.file}`)
      let text: string
      try {
        text = readFileSync(fd, 'utf8')
      } catch (err) {
        throw new DockerPluginError(ERR_DOCKER_STATE, `state file ${this.file}: ${(err as Error).message}`, {
          cause: err,
        })
      }
      try {
        return parsePluginState(JSON.parse(text))
      } catch (err) {
        throw new DockerPluginError(
          ERR_DOCKER_STATE,
          `state file ${this.file} is not the plugin's state: ${(err as Error).message}`,
          { cause: err, kind: 'invalid' },
        )
      }
    } finally {
      closeSync(fd)
    }
  }

  private write(next: PluginState, durable = true): void {
    const tmp = tempName(this.file)
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
    try {
      this.truncateJournal()
    } catch {} // left as it is: replayed onto this file, it changes nothing, and later lines follow it
  }

  /**
   * Empties the journal once the file holds all it said (a crash before this replays it onto the
   * new file: each line sets one reservation present or absent, so replaying it again is harmless).
   */
  private truncateJournal(): void {
    let fd: number
    try {
      fd = openSync(journalFile(this.file), constants.O_WRONLY | constants.O_NOFOLLOW)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      throw err
    }
    try {
      ftruncateSync(fd, 0)
    } finally {
      closeSync(fd)
    }
    this.journalLines = 0
  }

  /** A network's extras (empty when it has none). */
  network(nid: string): NetworkExtras {
    return this.state.networks[nid] ?? {}
  }

  /** Every network's extras. */
  networks(): Readonly<Record<string, NetworkExtras>> {
    return this.state.networks
  }

  /**
   * Records a network's extras (nothing is written when it has none and had none); what the file
   * would be refused for at the next start (not a Docker network id, an address outside its
   * subnet, …) is refused now, before anything changes.
   */
  setNetwork(nid: string, given: NetworkExtras): void {
    let extras: NetworkExtras
    try {
      if (!isDockerId(nid)) throw new Error(`${JSON.stringify(nid)} is not a Docker network id`)
      extras = parseNetworkExtras(`networks[${JSON.stringify(nid)}]`, given)
    } catch (err) {
      throw new DockerPluginError(ERR_DOCKER_STATE, `state file ${this.file}: ${(err as Error).message}`, {
        cause: err,
        kind: 'invalid',
      })
    }
    const empty =
      extras.hostBindingIPv4 === undefined && Object.keys(extras.aux ?? {}).length === 0 && !extras.ifacePrefix
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
   * Records the IPAM reservations (written before the answer reaches dockerd): what changed since
   * the last call is appended to the journal in one `write`, without an fsync: a crash of cnm keeps
   * the kernel's page cache; what only a power loss could lose, reservations of containers that
   * are gone with it, dockerd asks for again. Every {@link JOURNAL_LINES} lines the whole state is
   * written to the file instead, and the journal emptied.
   */
  setReservations(ipam: IpamReservations): void {
    const before = this.reservations()
    if (this.journalLines >= JOURNAL_LINES) {
      this.write({ ...this.state, ipam }, false)
      return
    }
    try {
      this.journalLines += appendReservationChanges(journalFile(this.file), before, ipam)
    } catch (err) {
      throw new DockerPluginError(ERR_DOCKER_STATE, `state file ${this.file}: ${(err as Error).message}`, {
        cause: err,
      })
    }
    this.state = { ...this.state, ipam }
  }

  /** Drops a network's extras. */
  deleteNetwork(nid: string): void {
    this.setNetwork(nid, {})
  }
}
