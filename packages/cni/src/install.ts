import {
  chmodSync,
  closeSync,
  constants,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { CNI_ERROR, CniError, ERR_CNI_INSTALL } from './errors.js'

/** The default directory runtimes look for CNI plugins in. */
export const DEFAULT_CNI_BIN_DIR = '/opt/cni/bin'

/** The name the runtime finds the plugin by (a configuration's `"type": "cnm"`). */
export const PLUGIN_NAME = 'cnm'

/** The Node executable the forwarder runs when no daemon answers. */
export const FALLBACK_NAME = '.cnm-cni-node'

/** The native forwarder built at install time (`node-gyp`), if it was. */
export function forwarderPath(): string | undefined {
  const p = fileURLToPath(new URL('../build/Release/cnm-cni', import.meta.url))
  return existsSync(p) ? p : undefined
}

/** What {@link installCni} put where. */
export interface InstallReport {
  plugin: string
  /** Whether `plugin` is the native forwarder (else it is the Node executable itself). */
  native: boolean
  fallback: string
}

/** Writes `file` through a fresh temporary file (O_EXCL|O_NOFOLLOW) renamed into place. */
function writeAtomically(file: string, write: (tmp: string) => void): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`)
  closeSync(openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o700))
  try {
    write(tmp)
    chmodSync(tmp, 0o755)
    renameSync(tmp, file)
  } catch (err) {
    try {
      unlinkSync(tmp)
    } catch {}
    throw err
  }
}

/**
 * Installs the `cnm` CNI plugin into `binDir` (default `/opt/cni/bin`): the native forwarder as
 * `cnm` (or, without one, the Node executable), and the Node executable as `.cnm-cni-node`, which
 * runs this package's `dist/bin.js` with this Node (absolute paths: a runtime's environment may
 * have no PATH). Files are replaced atomically, never written through a link.
 */
export function installCni(options: { binDir?: string; nodePath?: string } = {}): InstallReport {
  const binDir = path.resolve(options.binDir ?? DEFAULT_CNI_BIN_DIR)
  const node = options.nodePath ?? process.execPath
  const entry = fileURLToPath(new URL('./bin.js', import.meta.url))
  mkdirSync(binDir, { recursive: true, mode: 0o755 })
  if (!lstatSync(binDir).isDirectory()) {
    throw new CniError(ERR_CNI_INSTALL, 'invalid', CNI_ERROR.IO_FAILURE, `${binDir} is not a directory`)
  }
  const script = `#!${node}\nimport(${JSON.stringify(entry)}).catch((err) => { console.error(err); process.exit(1) })\n`
  const fallback = path.join(binDir, FALLBACK_NAME)
  writeAtomically(fallback, (tmp) => {
    const fd = openSync(tmp, constants.O_WRONLY | constants.O_TRUNC | constants.O_NOFOLLOW)
    try {
      writeSync(fd, script)
    } finally {
      closeSync(fd)
    }
  })
  const plugin = path.join(binDir, PLUGIN_NAME)
  const native = forwarderPath()
  writeAtomically(plugin, (tmp) => copyFileSync(native ?? fallback, tmp))
  return { plugin, native: native !== undefined, fallback }
}
