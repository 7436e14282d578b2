import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { publish } from 'libnpmpublish'

export interface PublishTarget {
  /** `http://127.0.0.1:<port>/` */
  registry: string
  /** The publisher's token for that registry. */
  token: string
}

/** The package.json inside a packed tarball (`package/package.json`). */
export function tarballManifest(file: string): { name: string; version: string } & Record<string, unknown> {
  const res = spawnSync('tar', ['-xzOf', file, 'package/package.json'], { encoding: 'utf8' })
  if (res.status !== 0) throw new Error(`tar could not read package/package.json from ${file}: ${res.stderr}`)
  return JSON.parse(res.stdout)
}

/**
 * Publishes packed tarballs (what `pnpm pack` made: `workspace:` ranges already replaced, prepack
 * run) all at once with npm's own publishing library, as `npm publish <tarball>` does. Resolves to
 * the `name@version`s published.
 */
export async function publishTarballs(files: string[], target: PublishTarget): Promise<string[]> {
  const host = new URL(target.registry)
  const opts = {
    registry: target.registry,
    [`//${host.host}/:_authToken`]: target.token,
    access: 'public',
    defaultTag: 'latest',
  }
  return Promise.all(
    files.map(async (file) => {
      const manifest = tarballManifest(file)
      await publish(manifest, readFileSync(file), opts)
      return `${manifest.name}@${manifest.version}`
    }),
  )
}
