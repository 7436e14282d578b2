import { randomBytes } from 'node:crypto'
import { closeSync, constants, lstatSync, mkdirSync, openSync, statSync } from 'node:fs'
import path from 'node:path'
import type { NetworkIpamText } from '@cnm/driverapi'
import Database from 'better-sqlite3'
import { ControllerError, ERR_STORE, ERR_STORE_LOCKED, ERR_STORE_MISMATCH } from './errors.js'
import { sqliteBinding } from './sqlite-binding.js'
import { fileIdentity, fileSize, identityPath, readIdentity, writeIdentity } from './store-identity.js'
import { lockHolder, storeLocked, takeStoreLock } from './store-lock.js'

/** Where the store lives by default. */
export const DEFAULT_STORE_PATH = '/var/lib/cnm/cnm.db'

export interface NetworkRow {
  id: string
  name: string
  type: string
  options: unknown
  record: unknown
  /** Its labels (`network create --label`); stored in `network_labels`. */
  labels?: Record<string, string>
  /**
   * Its subnets, gateways, ranges and aux addresses as given (`ipamToText` of `@cnm/driverapi`),
   * stored in `network_ipam`; absent when none were given (or in rows of older versions).
   */
  ipam?: NetworkIpamText
  /** When it was created (ISO 8601), as the store recorded it. */
  created?: string
}

export interface EndpointRow {
  id: string
  networkId: string
  name: string
  sandboxKey: string
  options: unknown
  record: unknown
  sandboxInfo: unknown
  /** Its DNS aliases (`connect --alias`), in order; stored in `endpoint_aliases`. */
  aliases?: string[]
}

export interface SandboxRow {
  id: string
  containerId: string
  key: string
  /** The container's name (a DNS name of its endpoints), if given; stored in `sandbox_names`. */
  name?: string | undefined
}

export interface JoinRow {
  endpointId: string
  sandboxId: string
  interfaceName: string
  /**
   * Where the interface came from: `host` (moved in, goes back on leave under `srcName`) or
   * `sandbox` (created inside; deleted on leave).
   */
  origin: 'host' | 'sandbox'
  /** Its name before it was moved in (for `host`). */
  srcName: string
}

export interface DriverRow {
  type: string
  options: unknown
}

export interface StoreSnapshot {
  drivers: DriverRow[]
  networks: NetworkRow[]
  endpoints: EndpointRow[]
  sandboxes: SandboxRow[]
  joins: JoinRow[]
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS drivers (type TEXT PRIMARY KEY, options TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS networks (
  id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
  options TEXT NOT NULL, record TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS endpoints (
  id TEXT PRIMARY KEY, network_id TEXT NOT NULL REFERENCES networks(id), name TEXT NOT NULL,
  sandbox_key TEXT NOT NULL, options TEXT NOT NULL, record TEXT NOT NULL, sandbox_info TEXT NOT NULL,
  created_at TEXT NOT NULL, UNIQUE (network_id, name));
CREATE TABLE IF NOT EXISTS sandboxes (
  id TEXT PRIMARY KEY, container_id TEXT NOT NULL, key TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS joins (
  endpoint_id TEXT PRIMARY KEY REFERENCES endpoints(id), sandbox_id TEXT NOT NULL REFERENCES sandboxes(id),
  interface TEXT NOT NULL, origin TEXT NOT NULL DEFAULT 'sandbox', src_name TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS ip_allocations (
  pool TEXT NOT NULL, ip TEXT NOT NULL, endpoint_id TEXT NOT NULL REFERENCES endpoints(id), PRIMARY KEY (pool, ip));
CREATE TABLE IF NOT EXISTS port_allocations (
  proto TEXT NOT NULL, host_ip TEXT NOT NULL, port INTEGER NOT NULL, endpoint_id TEXT NOT NULL REFERENCES endpoints(id),
  PRIMARY KEY (proto, host_ip, port));
-- Reconcile's allocation checks join on these: without them each is a full scan per row (seconds at 2,000 endpoints).
CREATE INDEX IF NOT EXISTS port_allocations_port ON port_allocations (proto, port);
CREATE INDEX IF NOT EXISTS ip_allocations_endpoint ON ip_allocations (endpoint_id);
CREATE TABLE IF NOT EXISTS endpoint_aliases (
  endpoint_id TEXT NOT NULL REFERENCES endpoints(id), position INTEGER NOT NULL, alias TEXT NOT NULL,
  PRIMARY KEY (endpoint_id, position));
CREATE TABLE IF NOT EXISTS network_ipam (
  network_id TEXT PRIMARY KEY REFERENCES networks(id), ipam TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS network_labels (
  network_id TEXT NOT NULL REFERENCES networks(id), key TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (network_id, key));
CREATE TABLE IF NOT EXISTS sandbox_names (
  sandbox_id TEXT PRIMARY KEY REFERENCES sandboxes(id), name TEXT NOT NULL);
`

const json = (v: unknown): string => JSON.stringify(v ?? null)
const withAliases = (aliases: string[] | undefined): { aliases?: string[] } => (aliases ? { aliases } : {})
const withLabels = (labels: Record<string, string> | undefined): { labels?: Record<string, string> } =>
  labels ? { labels } : {}
const parse = (s: string): unknown => JSON.parse(s)

/**
 * Creates a store file that does not exist yet empty, readable by root alone (SQLite would make it
 * 0644, and its WAL and shared-memory files take the database's mode), never through a link. An
 * existing file keeps its mode.
 */
function createPrivate(file: string): void {
  try {
    closeSync(openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    // There already: SQLite would follow a link to wherever it points.
    if (!lstatSync(file).isFile()) throw new Error(`${file} is not a regular file (a link?): cnm writes through none`)
  }
}

/**
 * The controller's embedded store: SQLite through better-sqlite3, WAL, foreign keys. Mutations run
 * inside `BEGIN IMMEDIATE` transactions, so two processes on one store are serialised (the second
 * waits, up to `busyTimeoutMs`); `changedElsewhere()` tells when another process committed since
 * this one last looked.
 */
export class Store {
  private readonly db: Database.Database
  /** Prepared statements by their SQL text: a request runs the same dozen, prepared once each. */
  readonly #statements = new Map<string, Database.Statement>()
  /** The statement for `sql`, prepared on first use. */
  #sql(sql: string): Database.Statement {
    let st = this.#statements.get(sql)
    if (!st) {
      st = this.db.prepare(sql)
      this.#statements.set(sql, st)
    }
    return st
  }
  private lastVersion = -1
  /**
   * This store's identity (16 hex characters, made once): the owner written on the kernel objects its
   * controller creates, so that a controller on another store never takes them for strays.
   */
  get id(): string {
    return this.#id
  }
  #id: string
  /** The id recorded beside the store when it differs from the database's (see `store-identity.ts`). */
  readonly recordedId: string | undefined
  readonly file: string | false
  /**
   * The database file's, its WAL's and its shared-memory index's device and inode when opened (and
   * the database file's size): a file removed, replaced or truncated under this process is noticed.
   */
  readonly #opened: { db: string | undefined; wal: string | undefined; shm: string | undefined; size: number }

  /** Releases the one-writer lock this process took (`lock`), if it did. */
  readonly #unlock: () => void
  /**
   * The one-writer lock was taken over from a process that was gone: the store's last writer (a
   * daemon) stopped without closing it, so work it did after its operations answered may be
   * unfinished. False without `lock`, or when the lock was free.
   */
  readonly lockTakenOver: boolean = false

  /**
   * Opens (or creates) the store. With `lock` this process takes the store's one-writer lock (the
   * daemon does; `socket` is where it serves, named to others); without it, a store whose lock a
   * live process holds is refused with `ERR_STORE_LOCKED` naming that process, before anything is
   * opened or created.
   */
  constructor(file: string | false, busyTimeoutMs = 30_000, lock?: { socket?: string }) {
    this.file = file
    let db: Database.Database | undefined
    let unlock = (): void => {}
    this.#unlock = () => unlock()
    try {
      if (file !== false) mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })
      if (file !== false && lock) {
        const taken = takeStoreLock(file, lock.socket)
        unlock = taken.release
        this.lockTakenOver = taken.tookOver
      } else if (file !== false) {
        const holder = lockHolder(file)
        if (holder) throw storeLocked(file, holder)
      }
      if (file !== false) createPrivate(file)
      const nativeBinding = sqliteBinding()
      db = new Database(file === false ? ':memory:' : file, {
        timeout: busyTimeoutMs,
        ...(nativeBinding ? { nativeBinding } : {}),
      })
      this.db = db
      if (file !== false) this.db.pragma('journal_mode = WAL')
      this.db.pragma('foreign_keys = ON')
      this.db.pragma('synchronous = NORMAL')
      for (const statement of SCHEMA.split(';')
        .map((s) => s.trim())
        .filter(Boolean))
        this.db.prepare(statement).run()
      this.#sql("INSERT OR IGNORE INTO meta (key, value) VALUES ('store_id', ?)").run(randomBytes(8).toString('hex'))
      this.#id = (this.#sql("SELECT value FROM meta WHERE key = 'store_id'").get() as { value: string }).value
      this.#opened = { db: undefined, wal: undefined, shm: undefined, size: 0 }
      if (file !== false) {
        const recorded = readIdentity(file)
        if (recorded === undefined) writeIdentity(file, this.#id)
        this.recordedId = recorded !== undefined && recorded !== this.#id ? recorded : undefined
        this.#opened = {
          db: fileIdentity(file),
          wal: fileIdentity(`${file}-wal`),
          shm: fileIdentity(`${file}-shm`),
          size: fileSize(file),
        }
      }
    } catch (cause) {
      // A store that cannot be opened is not left open (its descriptors would pin the file system).
      try {
        db?.close()
      } catch {}
      unlock()
      if ((cause as { code?: unknown }).code === ERR_STORE_LOCKED) throw cause
      throw new ControllerError(
        ERR_STORE,
        `cannot open the store ${file === false ? '(memory)' : file}: ${(cause as Error).message}`,
        { cause },
      )
    }
  }

  /**
   * What happened to the store's files since they were opened, or undefined (nothing). SQLite keeps
   * working on the descriptors of removed or truncated files while a new process would open new
   * ones under the same names: two stores, or a lost one.
   */
  #changedOnDisk(file: string): string | undefined {
    const o = this.#opened
    // One stat for the identity and the size (this runs before every write transaction).
    let st: ReturnType<typeof statSync>
    try {
      st = statSync(file)
    } catch {
      return 'removed' // or unreachable (EACCES, ENOTDIR, ELOOP): not the file it opened either way
    }
    if (`${st.dev}:${st.ino}` !== o.db) return 'replaced'
    if (o.size > 0 && st.size === 0) return 'truncated'
    if (o.wal !== undefined && fileIdentity(`${file}-wal`) !== o.wal) return `changed (${file}-wal removed or replaced)`
    if (o.shm !== undefined && fileIdentity(`${file}-shm`) !== o.shm) return `changed (${file}-shm removed or replaced)`
    return undefined
  }

  /**
   * Starts a write transaction, waiting for any other process's to end. Refuses when the store's
   * files were removed, replaced or truncated since they were opened: writing on would split the
   * state in two (this process on the unlinked file, another on a new one) or lose it.
   */
  begin(): void {
    const changed = this.file === false ? undefined : this.#changedOnDisk(this.file)
    if (changed) {
      throw new ControllerError(
        ERR_STORE_MISMATCH,
        `the store ${String(this.file)} was ${changed} while this process had it open: refusing to go on (restart to reopen it)`,
        { kind: 'unavailable' },
      )
    }
    try {
      this.#sql('BEGIN IMMEDIATE').run()
    } catch (cause) {
      throw this.#failure('cannot start a transaction', cause)
    }
  }

  /** A SQLite failure to reach or write the store (busy, read-only, full, I/O): `ERR_STORE`, kind unavailable. */
  #failure(what: string, cause: unknown): ControllerError {
    const code = (cause as { code?: unknown }).code
    const where = this.file === false ? '(memory)' : this.file
    return new ControllerError(
      ERR_STORE,
      `the store ${where}: ${what}: ${(cause as Error).message}${typeof code === 'string' ? ` (${code})` : ''}`,
      { cause, kind: 'unavailable' },
    )
  }

  /**
   * Takes the id recorded beside the store as this store's own (an emptied store whose kernel
   * objects are to be found again: reconcile then removes them as this store's strays).
   */
  adoptRecordedId(): void {
    if (!this.recordedId || this.file === false) return
    this.#sql("UPDATE meta SET value = ? WHERE key = 'store_id'").run(this.recordedId)
    this.#id = this.recordedId
  }

  /** Where the store's identity is recorded (for messages). */
  identityFile(): string | undefined {
    return this.file === false ? undefined : identityPath(this.file)
  }

  /** Commits; a store that cannot take it (full, read-only, I/O) is `ERR_STORE` (the transaction stays open: roll back). */
  commit(): void {
    try {
      this.#sql('COMMIT').run()
    } catch (cause) {
      throw this.#failure('cannot commit', cause)
    }
  }

  /**
   * Rolls back, and forgets which version of the store this process had caught up with: whatever the
   * failed operation changed in memory is then brought back in line by the next one's sync.
   */
  rollback(): void {
    if (this.db.inTransaction) this.#sql('ROLLBACK').run()
    this.lastVersion = -1
  }

  /** True when another connection committed since the last call (and the first time). */
  changedElsewhere(): boolean {
    const v = this.db.pragma('data_version', { simple: true }) as number
    const changed = v !== this.lastVersion
    this.lastVersion = v
    return changed
  }

  /**
   * The drivers the store names (with their options) and the types of its networks: what a
   * start-up makes first, so that the drivers look at the kernel while the rest is read.
   */
  driverTypes(): Pick<StoreSnapshot, 'drivers'> & { networks: Pick<NetworkRow, 'type'>[] } {
    return {
      drivers: (this.#sql('SELECT type, options FROM drivers').all() as { type: string; options: string }[]).map(
        (r) => ({ type: r.type, options: parse(r.options) }),
      ),
      networks: this.#sql('SELECT DISTINCT type FROM networks').all() as { type: string }[],
    }
  }

  /**
   * Reads every record (drivers, networks with labels, endpoints with aliases, sandboxes with names,
   * joins) in one pass: what the controller loads at start-up and after another process's commit.
   */
  snapshot(): StoreSnapshot {
    const rows = <T>(sql: string): T[] => this.#sql(sql).all() as T[]
    const aliases = new Map<string, string[]>()
    for (const r of rows<{ endpoint_id: string; alias: string }>(
      'SELECT endpoint_id, alias FROM endpoint_aliases ORDER BY endpoint_id, position',
    )) {
      aliases.set(r.endpoint_id, [...(aliases.get(r.endpoint_id) ?? []), r.alias])
    }
    const labels = new Map<string, Record<string, string>>()
    for (const r of rows<{ network_id: string; key: string; value: string }>(
      'SELECT network_id, key, value FROM network_labels ORDER BY network_id, key',
    )) {
      labels.set(r.network_id, { ...labels.get(r.network_id), [r.key]: r.value })
    }
    const ipam = new Map<string, NetworkIpamText>()
    for (const r of rows<{ network_id: string; ipam: string }>('SELECT network_id, ipam FROM network_ipam')) {
      ipam.set(r.network_id, parse(r.ipam) as NetworkIpamText)
    }
    return {
      drivers: rows<{ type: string; options: string }>('SELECT type, options FROM drivers').map((r) => ({
        type: r.type,
        options: parse(r.options),
      })),
      networks: rows<{ id: string; name: string; type: string; options: string; record: string; created_at: string }>(
        'SELECT id, name, type, options, record, created_at FROM networks ORDER BY created_at, id',
      ).map(({ created_at, ...r }) => ({
        ...r,
        options: parse(r.options),
        record: parse(r.record),
        created: created_at,
        ...withLabels(labels.get(r.id)),
        ...(ipam.has(r.id) ? { ipam: ipam.get(r.id) } : {}),
      })),
      endpoints: rows<{
        id: string
        network_id: string
        name: string
        sandbox_key: string
        options: string
        record: string
        sandbox_info: string
      }>('SELECT * FROM endpoints ORDER BY created_at, id').map((r) => ({
        id: r.id,
        networkId: r.network_id,
        name: r.name,
        sandboxKey: r.sandbox_key,
        options: parse(r.options),
        record: parse(r.record),
        sandboxInfo: parse(r.sandbox_info),
        ...withAliases(aliases.get(r.id)),
      })),
      sandboxes: rows<{ id: string; container_id: string; key: string; name: string | null }>(
        'SELECT s.id, s.container_id, s.key, n.name FROM sandboxes s LEFT JOIN sandbox_names n ON n.sandbox_id = s.id ORDER BY s.created_at, s.id',
      ).map((r) => ({
        id: r.id,
        containerId: r.container_id,
        key: r.key,
        ...(r.name === null ? {} : { name: r.name }),
      })),
      joins: rows<{ endpoint_id: string; sandbox_id: string; interface: string; origin: string; src_name: string }>(
        'SELECT * FROM joins',
      ).map((r) => ({
        endpointId: r.endpoint_id,
        sandboxId: r.sandbox_id,
        interfaceName: r.interface,
        origin: r.origin === 'host' ? 'host' : 'sandbox',
        srcName: r.src_name,
      })),
    }
  }

  /**
   * The driver records of one type's networks and of their endpoints (what a stray pass must not
   * remove), read alone: no options, sandboxes, joins or aliases parsed.
   */
  recordsOfType(type: string): {
    networks: Map<string, unknown>
    endpoints: Map<string, { networkId: string; record: unknown }>
  } {
    const networks = new Map<string, unknown>()
    for (const r of this.#sql('SELECT id, record FROM networks WHERE type = ?').all(type) as {
      id: string
      record: string
    }[]) {
      networks.set(r.id, parse(r.record))
    }
    const endpoints = new Map<string, { networkId: string; record: unknown }>()
    for (const r of this.#sql(
      'SELECT e.id AS id, e.network_id AS networkId, e.record AS record FROM endpoints e JOIN networks n ON n.id = e.network_id WHERE n.type = ?',
    ).all(type) as { id: string; networkId: string; record: string }[]) {
      endpoints.set(r.id, { networkId: r.networkId, record: parse(r.record) })
    }
    return { networks, endpoints }
  }

  /** Records (or replaces) the options a driver type was configured with, so a restart makes it again. */
  putDriver(type: string, options: unknown): void {
    this.#sql('INSERT OR REPLACE INTO drivers (type, options) VALUES (?, ?)').run(type, json(options))
  }

  /** Inserts a network and its labels; sets `n.created` to the time recorded. */
  insertNetwork(n: NetworkRow): void {
    n.created ??= new Date().toISOString()
    this.#sql('INSERT INTO networks (id, name, type, options, record, created_at) VALUES (?, ?, ?, ?, ?, ?)').run(
      n.id,
      n.name,
      n.type,
      json(n.options),
      json(n.record),
      n.created,
    )
    const label = this.#sql('INSERT INTO network_labels (network_id, key, value) VALUES (?, ?, ?)')
    for (const [key, value] of Object.entries(n.labels ?? {})) label.run(n.id, key, value)
    if (n.ipam && (n.ipam.v4?.length || n.ipam.v6?.length)) {
      this.#sql('INSERT INTO network_ipam (network_id, ipam) VALUES (?, ?)').run(n.id, json(n.ipam))
    }
  }

  /** Replaces a network's driver record (the JSON its driver persists to restore it). */
  updateNetworkRecord(id: string, record: unknown): void {
    this.#sql('UPDATE networks SET record = ? WHERE id = ?').run(json(record), id)
  }

  /** Deletes a network's record and labels (its endpoints must be deleted first). */
  deleteNetwork(id: string): void {
    this.#sql('DELETE FROM network_labels WHERE network_id = ?').run(id)
    this.#sql('DELETE FROM network_ipam WHERE network_id = ?').run(id)
    this.#sql('DELETE FROM networks WHERE id = ?').run(id)
  }

  /** Inserts an endpoint with its address and port allocations (unique keys: never held twice). */
  insertEndpoint(
    e: EndpointRow,
    ips: { pool: string; ip: string }[],
    ports: { proto: string; hostIP: string; port: number }[],
  ): void {
    this.#sql(
      'INSERT INTO endpoints (id, network_id, name, sandbox_key, options, record, sandbox_info, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ).run(
      e.id,
      e.networkId,
      e.name,
      e.sandboxKey,
      json(e.options),
      json(e.record),
      json(e.sandboxInfo),
      new Date().toISOString(),
    )
    const ip = this.#sql('INSERT INTO ip_allocations (pool, ip, endpoint_id) VALUES (?, ?, ?)')
    for (const a of ips) ip.run(a.pool, a.ip, e.id)
    const port = this.#sql('INSERT INTO port_allocations (proto, host_ip, port, endpoint_id) VALUES (?, ?, ?, ?)')
    for (const p of ports) port.run(p.proto, p.hostIP, p.port, e.id)
    if (e.aliases?.length) {
      const alias = this.#sql('INSERT INTO endpoint_aliases (endpoint_id, position, alias) VALUES (?, ?, ?)')
      for (const [i, a] of e.aliases.entries()) alias.run(e.id, i, a)
    }
  }

  /** Replaces an endpoint's driver record and its port allocations (ports published or unpublished). */
  updateEndpointPorts(id: string, record: unknown, ports: { proto: string; hostIP: string; port: number }[]): void {
    this.#sql('UPDATE endpoints SET record = ? WHERE id = ?').run(json(record), id)
    this.#sql('DELETE FROM port_allocations WHERE endpoint_id = ?').run(id)
    const port = this.#sql('INSERT INTO port_allocations (proto, host_ip, port, endpoint_id) VALUES (?, ?, ?, ?)')
    for (const p of ports) port.run(p.proto, p.hostIP, p.port, id)
  }

  /** Deletes an endpoint's record with its join, address and port allocations and aliases. */
  deleteEndpoint(id: string): void {
    this.#sql('DELETE FROM joins WHERE endpoint_id = ?').run(id)
    this.#sql('DELETE FROM ip_allocations WHERE endpoint_id = ?').run(id)
    this.#sql('DELETE FROM port_allocations WHERE endpoint_id = ?').run(id)
    this.#sql('DELETE FROM endpoint_aliases WHERE endpoint_id = ?').run(id)
    this.#sql('DELETE FROM endpoints WHERE id = ?').run(id)
  }

  /** Inserts a sandbox's record (and its container name, if any); the creation time is recorded now. */
  insertSandbox(s: SandboxRow): void {
    this.#sql('INSERT INTO sandboxes (id, container_id, key, created_at) VALUES (?, ?, ?, ?)').run(
      s.id,
      s.containerId,
      s.key,
      new Date().toISOString(),
    )
    if (s.name !== undefined) {
      this.#sql('INSERT INTO sandbox_names (sandbox_id, name) VALUES (?, ?)').run(s.id, s.name)
    }
  }

  /** Deletes a sandbox's record with its joins and name. */
  deleteSandbox(id: string): void {
    this.#sql('DELETE FROM joins WHERE sandbox_id = ?').run(id)
    this.#sql('DELETE FROM sandbox_names WHERE sandbox_id = ?').run(id)
    this.#sql('DELETE FROM sandboxes WHERE id = ?').run(id)
  }

  /** Records that an endpoint joined a sandbox, under which interface name and from where it came. */
  insertJoin(j: JoinRow): void {
    this.#sql('INSERT INTO joins (endpoint_id, sandbox_id, interface, origin, src_name) VALUES (?, ?, ?, ?, ?)').run(
      j.endpointId,
      j.sandboxId,
      j.interfaceName,
      j.origin,
      j.srcName,
    )
  }

  /** Deletes the join of an endpoint (it left its sandbox). */
  deleteJoin(endpointId: string): void {
    this.#sql('DELETE FROM joins WHERE endpoint_id = ?').run(endpointId)
  }

  /**
   * What the crash and concurrency tests rely on, read from the store itself (should be nothing):
   * an address held by two endpoints, a host port held twice (the same address, or a wildcard and an
   * address of its family), an allocation whose endpoint is gone, an endpoint whose address has no
   * allocation. For reconcile's report.
   */
  allocationProblems(): string[] {
    const all = <T>(sql: string): T[] => this.#sql(sql).all() as T[]
    const problems: string[] = []
    for (const r of all<{ ip: string; holders: string }>(
      `SELECT ip, group_concat(endpoint_id, ', ') AS holders FROM ip_allocations GROUP BY ip HAVING COUNT(*) > 1`,
    )) {
      problems.push(`address ${r.ip} held twice (by ${r.holders})`)
    }
    for (const r of all<{ proto: string; a: string; b: string; port: number; ea: string; eb: string }>(
      `SELECT x.proto AS proto, x.host_ip AS a, y.host_ip AS b, x.port AS port, x.endpoint_id AS ea, y.endpoint_id AS eb
       FROM port_allocations x JOIN port_allocations y
         ON x.proto = y.proto AND x.port = y.port AND x.rowid < y.rowid
       WHERE x.host_ip = y.host_ip
          OR (x.host_ip = '0.0.0.0' AND instr(y.host_ip, ':') = 0) OR (y.host_ip = '0.0.0.0' AND instr(x.host_ip, ':') = 0)
          OR (x.host_ip = '::' AND instr(y.host_ip, ':') > 0) OR (y.host_ip = '::' AND instr(x.host_ip, ':') > 0)`,
    )) {
      problems.push(`port ${r.proto} ${r.port} held twice (${r.a} by ${r.ea}, ${r.b} by ${r.eb})`)
    }
    for (const r of all<{ what: string }>(
      `SELECT 'address ' || pool || ' ' || ip AS what FROM ip_allocations
         WHERE endpoint_id NOT IN (SELECT id FROM endpoints)
       UNION ALL SELECT 'port ' || proto || ' ' || host_ip || ':' || port FROM port_allocations
         WHERE endpoint_id NOT IN (SELECT id FROM endpoints)`,
    )) {
      problems.push(`${r.what} is allocated to no endpoint`)
    }
    for (const r of all<{ name: string; ip: string }>(
      `SELECT e.name AS name, substr(a.value, 1, instr(a.value, '/') - 1) AS ip
       FROM endpoints e, json_each(e.sandbox_info, '$.interfaces') i,
         json_each(json_array(json_extract(i.value, '$.address'), json_extract(i.value, '$.addressIPv6'))) a
       WHERE a.value IS NOT NULL
         AND substr(a.value, 1, instr(a.value, '/') - 1) NOT IN (SELECT ip FROM ip_allocations WHERE endpoint_id = e.id)`,
    )) {
      problems.push(`endpoint ${r.name} has address ${r.ip} without its allocation`)
    }
    return problems
  }

  /** All address and port allocations, for tests and inspection. */
  allocations(): {
    ips: { pool: string; ip: string; endpointId: string }[]
    ports: { proto: string; hostIP: string; port: number; endpointId: string }[]
  } {
    return {
      ips: this.#sql('SELECT pool, ip, endpoint_id AS endpointId FROM ip_allocations').all() as {
        pool: string
        ip: string
        endpointId: string
      }[],
      ports: this.#sql(
        'SELECT proto, host_ip AS hostIP, port, endpoint_id AS endpointId FROM port_allocations',
      ).all() as {
        proto: string
        hostIP: string
        port: number
        endpointId: string
      }[],
    }
  }

  /**
   * Rolls back any open transaction, closes the database and releases the one-writer lock this
   * process took, if it did.
   */
  close(): void {
    this.rollback()
    this.db.close()
    this.#unlock()
  }
}
