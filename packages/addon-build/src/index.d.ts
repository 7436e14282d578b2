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
}

/** The install prefix of a Node binary (`/usr` for `/usr/bin/node`). */
export function nodePrefix(execPath?: string): string

/** The `node-gyp rebuild --nodedir=<prefix>` command line, without spawning it. */
export function nodeGypInvocation(options?: NodeGypOptions): NodeGypInvocation

/**
 * Runs `node-gyp rebuild` in the package directory against the running Node's own headers, never
 * downloading them. Returns the exit status: 0 when built (or skipped off Linux).
 */
export function buildAddon(options?: BuildAddonOptions): number
