import { closeSync, constants, mkdirSync, openSync, readdirSync, rmdirSync, rmSync } from 'node:fs'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest'
import {
  CLONE_NEWNET,
  CURRENT_NETNS_PATH,
  ensureThreadPool,
  MNT_DETACH,
  netnsInode,
  umount2,
  unshare,
} from '../index.js'
import { TEST_NETNS_ROOT, uniqueName } from './names.js'
import { run } from './run.js'
import { boundNetnsPaths } from './snapshot.js'

/** A fresh network namespace playing the host, entered by the test's main thread. */
export interface HostNetns {
  /** Inode of the namespace playing the host (changes per test with `per: 'test'`). */
  readonly inode: number
  /** Inode of the namespace the test process started in (never changed by the test). */
  readonly originInode: number
  /** A directory unique to this file for binding namespaces (removed afterwards). */
  readonly dir: string
  /** A path in {@link dir} for a namespace named uniquely after `prefix`. */
  netnsPath(prefix?: string): string
}

interface State {
  home: number
  inode: number
  originInode: number
  dir: string
}

/** What a namespace playing the host must not hold when a test leaves it. */
export function leftoversInCurrentNetns(): string[] {
  const problems: string[] = []
  const extra = waitForLinksGone()
  if (extra.length > 0) problems.push(`links left: ${extra.join(', ')}`)
  const nft = nftLeftovers()
  if (nft.length > 0) problems.push(`nftables left: ${nft.join(', ')}`)
  for (const cmd of ['iptables-save', 'ip6tables-save']) {
    const text = spawnQuiet(cmd, [])
    if (text === undefined) continue
    const owned = text
      .split('\n')
      .filter(
        (l) =>
          l.startsWith('-A ') || (l.startsWith(':') && !/^:(INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) /u.test(l)),
      )
    if (owned.length > 0) problems.push(`${cmd}: rules or chains left:\n  ${owned.join('\n  ')}`)
  }
  return problems
}

/**
 * Links other than `lo`, polled for up to 3 s: the kernel removes the links of a deleted namespace
 * (a veth's host end, say) asynchronously, shortly after the namespace is released.
 */
export function waitForLinksGone(timeoutMs = 3000): string[] {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const links = JSON.parse(run('ip', ['-j', 'link', 'show']).stdout || '[]') as { ifname: string }[]
    const extra = links.map((l) => l.ifname).filter((n) => n !== 'lo')
    if (extra.length === 0 || Date.now() > deadline) return extra
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20)
  }
}

const IPTABLES_TABLES = new Set(['filter', 'nat', 'mangle', 'raw', 'security'])
const BUILTIN_CHAINS = new Set(['INPUT', 'OUTPUT', 'FORWARD', 'PREROUTING', 'POSTROUTING'])

/**
 * Tables, chains and rules in the nftables ruleset, except the empty built-in tables and chains
 * that iptables-nft leaves once used (those hold nothing and are not a leftover).
 */
function nftLeftovers(): string[] {
  const text = spawnQuiet('nft', ['-j', 'list', 'ruleset'])
  if (text === undefined) return []
  const items = (JSON.parse(text) as { nftables: Record<string, { family: string; name?: string; table?: string }>[] })
    .nftables
  const out: string[] = []
  for (const item of items) {
    const [kind, obj] = Object.entries(item)[0] ?? []
    if (!obj || kind === 'metainfo') continue
    const iptablesTable =
      (obj.family === 'ip' || obj.family === 'ip6') && IPTABLES_TABLES.has(obj.table ?? obj.name ?? '')
    if (kind === 'table' && iptablesTable) continue
    if (kind === 'chain' && iptablesTable && BUILTIN_CHAINS.has(obj.name ?? '')) continue
    out.push(`${kind} ${obj.family} ${obj.table ? `${obj.table} ` : ''}${obj.name ?? ''}`.trim())
  }
  return out
}

function spawnQuiet(cmd: string, args: string[]): string | undefined {
  try {
    return run(cmd, args).stdout
  } catch {
    return undefined
  }
}

function leftoverMounts(dir: string): string[] {
  const mounted = boundNetnsPaths().filter((p) => p.startsWith(`${dir}/`))
  let files: string[] = []
  try {
    files = readdirSync(dir).map((f) => path.join(dir, f))
  } catch {}
  return [...new Set([...mounted, ...files])]
}

async function enter(state: Partial<State>): Promise<void> {
  await ensureThreadPool()
  state.home = openSync(CURRENT_NETNS_PATH, constants.O_RDONLY)
  // The process's own namespace: taken once (with `per: 'test'`, later tests start from the
  // empty namespace the previous one left the thread in).
  state.originInode ??= netnsInode()
  unshare(CLONE_NEWNET)
  state.inode = netnsInode()
  run('ip', ['link', 'set', 'lo', 'up'])
}

/**
 * Checks the namespace the test leaves, then moves the main thread into a fresh, empty namespace
 * rather than back to the one the process started in (the host's): work a timed-out hook or test
 * left running (a firewall transaction still spawning `iptables`, say) finishes there, harmlessly,
 * instead of in the host's namespace. A test file's process ends after the file, so nothing needs
 * the way back.
 */
function leave(state: Partial<State>, problems: string[]): void {
  if (state.home === undefined) return
  problems.push(...leftoversInCurrentNetns())
  unshare(CLONE_NEWNET)
  closeSync(state.home)
  state.home = undefined
  if (netnsInode() === state.originInode) problems.push('the test process is still in the namespace it started in')
}

function cleanDir(dir: string, problems: string[]): void {
  const left = leftoverMounts(dir)
  if (left.length > 0) problems.push(`namespaces or files left in ${dir}: ${left.join(', ')}`)
  // Unbind every namespace below the directory (deepest first), then remove it.
  for (const p of boundNetnsPaths()
    .filter((m) => m.startsWith(`${dir}/`))
    .sort()
    .reverse()) {
    try {
      umount2(p, MNT_DETACH)
    } catch {}
  }
  try {
    rmSync(dir, { recursive: true, force: true })
  } catch (err) {
    problems.push(`cannot remove ${dir}: ${(err as Error).message}`)
  }
  // The root too, once no file uses it: a file run alone (no suite's origin guard to remove it)
  // leaves the machine as it was.
  try {
    rmdirSync(TEST_NETNS_ROOT)
  } catch {} // another file's directory is in it, or it is gone
}

/**
 * Makes every test in the calling file run with the main thread inside a brand-new network
 * namespace that plays the host (`per: 'file'`, the default, or a fresh one per test), so the
 * namespace the test command started in is never changed. Afterwards it checks that nothing was
 * left (links other than `lo`, nftables tables, iptables rules or chains, bound namespaces in the
 * file's directory), cleans up anyway, and fails the file if anything was.
 */
export function useHostNetns(options: { per?: 'file' | 'test' } = {}): HostNetns {
  const state: Partial<State> = {}
  const per = options.per ?? 'file'
  const fail = (problems: string[]): void => {
    if (problems.length > 0) throw new Error(`test left kernel state behind:\n${problems.join('\n')}`)
  }
  beforeAll(() => {
    state.dir = path.join(TEST_NETNS_ROOT, `${process.pid}-${uniqueName('f')}`)
    // Another file may remove the root between the two steps of a recursive mkdir when it empties.
    for (let attempt = 0; ; attempt++) {
      try {
        mkdirSync(state.dir, { recursive: true })
        break
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 4) throw err
      }
    }
  })
  if (per === 'test') {
    beforeEach(() => enter(state))
    afterEach(() => {
      const problems: string[] = []
      leave(state, problems)
      fail(problems)
    })
  } else {
    beforeAll(() => enter(state))
  }
  afterAll(() => {
    const problems: string[] = []
    if (per === 'file') leave(state, problems)
    if (state.dir) cleanDir(state.dir, problems)
    fail(problems)
  })
  return {
    get inode() {
      if (state.inode === undefined) throw new Error('useHostNetns: not inside a test yet')
      return state.inode
    },
    get originInode() {
      if (state.originInode === undefined) throw new Error('useHostNetns: not inside a test yet')
      return state.originInode
    },
    get dir() {
      if (!state.dir) throw new Error('useHostNetns: not inside a test yet')
      return state.dir
    },
    netnsPath(prefix = 'ns') {
      if (!state.dir) throw new Error('useHostNetns: not inside a test yet')
      return path.join(state.dir, uniqueName(prefix))
    },
  }
}
