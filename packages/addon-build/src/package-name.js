import { readFileSync } from 'node:fs'
import path from 'node:path'

/** The `name` in a package's package.json, else its directory's name. @param {string} packageDir */
export function packageName(packageDir) {
  try {
    const { name } = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8'))
    if (typeof name === 'string' && name) return name
  } catch {}
  return path.basename(packageDir)
}
