import { statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import type { ExecResult } from './run-program.js'

interface NftAddon {
  available(): string | null
  open(flags: number): unknown
  runAsync(ctx: unknown, script: string): Promise<[number, string, string]>
}

const NFT_CTX_OUTPUT_JSON = 1 << 4

let addon: NftAddon | null | undefined
const contexts = new Map<string, unknown>()
/** The last command queued on each context (see runNftInProcess). */
const queues = new Map<unknown, Promise<void>>()

function load(): NftAddon | null {
  if (addon !== undefined) return addon
  addon = null
  if (process.env.CNM_NFT === 'spawn') return addon
  try {
    // node-gyp-build: the install script's build/Release, else the tarball's prebuilds/.
    const load = createRequire(import.meta.url)('node-gyp-build') as (dir: string) => unknown
    const a = load(fileURLToPath(new URL('..', import.meta.url))) as NftAddon
    if (a.available() === null) addon = a
  } catch {
    // Not built (or not Linux): `nft` is spawned instead.
  }
  return addon
}

/** Whether nft scripts run in process (libnftables) rather than by spawning `nft`. */
export function nftInProcess(): boolean {
  return load() !== null
}

/**
 * A libnftables context for the calling thread's network namespace: its netlink socket is opened
 * when the context is made and stays in that namespace, so contexts are kept per namespace.
 */
function context(a: NftAddon, json: boolean): unknown {
  const key = `${statSync('/proc/thread-self/ns/net').ino}/${json ? 'json' : 'text'}`
  let ctx = contexts.get(key)
  if (ctx === undefined) {
    ctx = a.open(json ? NFT_CTX_OUTPUT_JSON : 0)
    contexts.set(key, ctx)
  }
  return ctx
}

/**
 * Runs what `nft <args>` (with `input` on stdin) would, in process: `-f -` applies the script as
 * one transaction, `-j` asks for JSON. The context (and so the namespace) is chosen on the calling
 * thread; the transaction itself runs on a pool thread. Returns undefined when libnftables is not
 * available, or the arguments are not ones it maps.
 */
export function runNftInProcess(args: readonly string[], input?: string): Promise<ExecResult> | undefined {
  const a = load()
  if (a === null) return undefined
  const json = args[0] === '-j'
  const rest = json ? args.slice(1) : args
  let script: string
  if (rest.length === 2 && rest[0] === '-f' && rest[1] === '-') script = input ?? ''
  else if (rest.every((x) => /^[A-Za-z0-9_.-]+$/u.test(x))) script = rest.join(' ')
  else return undefined
  const ctx = context(a, json)
  // One command at a time per context: a context holds one output buffer, so two commands on it at
  // once (a batch's early read of the table beside another read) would mix their output.
  const run = (queues.get(ctx) ?? Promise.resolve()).then(() => a.runAsync(ctx, script))
  const settled = run.then(
    () => undefined,
    () => undefined,
  )
  queues.set(ctx, settled)
  settled.then(() => {
    if (queues.get(ctx) === settled) queues.delete(ctx)
  })
  return run.then(([rc, stdout, stderr]) => ({ status: rc === 0 ? 0 : 1, stdout, stderr }))
}
