import type { StdioOptions } from 'node:child_process'

/** How node-gyp is found: the running Node, the environment npm or pnpm gives a lifecycle script. */
export interface NodeGypOptions {
  /** The Node binary whose prefix holds the headers (`<prefix>/include/node`). Default: the running one. */
  execPath?: string
  /** Reads `npm_config_nodedir` and `npm_config_node_gyp`. Default: `process.env`. */
  env?: NodeJS.ProcessEnv
  /** Whether a file exists (for npm's bundled node-gyp). Default: `fs.existsSync`. */
  exists?: (file: string) => boolean
}

/** The node-gyp command line: `file` and `args` to spawn (no shell), and the header prefix it uses. */
export interface NodeGypInvocation {
  file: string
  args: string[]
  nodedir: string
}

/** Options of {@link buildAddon}. */
export interface BuildAddonOptions {
  /** The package directory holding `binding.gyp`. Default: the working directory. */
  packageDir?: string
  /** The name in messages. Default: the package's `name`. */
  label?: string
  /** Default: `process.platform`; the build is skipped (status 0) elsewhere than Linux. */
  platform?: NodeJS.Platform
  env?: NodeJS.ProcessEnv
  execPath?: string
  /** node-gyp's stdio. Default: `'inherit'`. */
  stdio?: StdioOptions
  /**
   * Build even when a prebuilt addon loads or `build/Release` is newer than the sources. Default:
   * whether `npm_config_build_from_source` is `true` or `CNM_BUILD_FROM_SOURCE` is `1`.
   */
  force?: boolean
  /** A failed build is a warning and status 0 (for a binary the package can do without). Default: false. */
  optional?: boolean
}

/** Options of {@link prebuildAddon}. */
export interface PrebuildOptions {
  /** The package directory holding `binding.gyp` and `native/`. Default: the working directory. */
  packageDir?: string
  /** The name in messages. Default: the package's `name`. */
  label?: string
  /** Reads `npm_config_nodedir` and `npm_config_node_gyp`. Default: `process.env`. */
  env?: NodeJS.ProcessEnv
  /** The Node whose headers are built against. Default: the running one. */
  execPath?: string
  /** Build even when the prebuilds are newer than the sources. Default: false. */
  force?: boolean
}

/** One target of a `binding.gyp`: its output file under `build/Release`, and whether it is an addon. */
export interface GypTarget {
  name: string
  file: string
  addon: boolean
}

/** The install prefix of a Node binary (`/usr` for `/usr/bin/node`). */
export function nodePrefix(execPath?: string): string

/** The `node-gyp rebuild --nodedir=<prefix>` command line, without spawning it. */
export function nodeGypInvocation(options?: NodeGypOptions): NodeGypInvocation

/**
 * The install step. Builds nothing when every target is an addon and the tarball's prebuilt one
 * for this platform loads (`prebuilds/`), or when `build/Release` is newer than the sources;
 * otherwise runs `node-gyp rebuild` in the package directory against the running Node's own
 * headers, never downloading them. Returns the exit status: 0 when built, not needed, or skipped
 * off Linux.
 */
export function buildAddon(options?: BuildAddonOptions): number

/**
 * The pack step: prebuildify (N-API, stripped, tagged with the C library) in a temporary copy of
 * `binding.gyp` and `native/`, into `prebuilds/<platform>-<arch>/`; nothing when those are newer
 * than the sources. Resolves to the exit status.
 */
export function prebuildAddon(options?: PrebuildOptions): Promise<number>

/** `prebuilds/<platform>-<arch>` of a package, for this machine. */
export function prebuildDir(packageDir: string): string

/** Whether this machine's prebuilds exist and are newer than `binding.gyp` and `native/`. */
export function prebuildIsFresh(packageDir: string): boolean

/** The targets of a package's `binding.gyp`. */
export function gypTargets(packageDir: string): GypTarget[]

/** Whether `build/Release` holds every target, each newer than the sources. */
export function buildIsFresh(packageDir: string): boolean

/** The prebuilt addon node-gyp-build would load on this machine from `prebuilds/`, if any. */
export function prebuiltAddon(packageDir: string): string | undefined
