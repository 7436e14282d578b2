import { spawnSync } from 'node:child_process'
import { createReadStream, existsSync, readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { createRequire } from 'node:module'
import path from 'node:path'

/** A loopback HTTP server that serves a fixed set of files by URL path, nothing else. */
export interface BinaryMirror {
  /** `http://127.0.0.1:<port>` (no trailing slash, as prebuild-install's host mirrors are given). */
  url: string
  /** The paths requested so far. */
  requests: string[]
  stop(): Promise<void>
}

export function startBinaryMirror(files: Record<string, string>): Promise<BinaryMirror> {
  const requests: string[] = []
  const server = createServer((req, res) => {
    const file = req.url ? files[req.url] : undefined
    requests.push(req.url ?? '')
    if (!file) {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200, { 'content-type': 'application/gzip' })
    createReadStream(file).pipe(res)
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      if (!address || typeof address !== 'object') return reject(new Error('no address'))
      resolve({
        url: `http://127.0.0.1:${address.port}`,
        requests,
        stop: () => new Promise((r) => server.close(() => r())),
      })
    })
  })
}

/**
 * better-sqlite3's binary as prebuild-install fetches it from a host mirror
 * (`npm_config_better_sqlite3_binary_host`): `/v<version>/better-sqlite3-v<version>-node-v<abi>-linux-x64.tar.gz`
 * holding `build/Release/better_sqlite3.node`, made from the copy the workspace installed (and
 * compiled) for `fromPackageDir`. Returns the mirror's file table.
 */
export function betterSqliteMirrorFiles(fromPackageDir: string, outDir: string): Record<string, string> {
  const require = createRequire(path.join(fromPackageDir, 'package.json'))
  const dir = path.dirname(require.resolve('better-sqlite3/package.json'))
  const { version } = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }
  const binary = 'build/Release/better_sqlite3.node'
  if (!existsSync(path.join(dir, binary))) throw new Error(`better-sqlite3 is not built in ${dir}`)
  const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`
  const out = path.join(outDir, name)
  const res = spawnSync('tar', ['-czf', out, '-C', dir, binary], { encoding: 'utf8' })
  if (res.status !== 0) throw new Error(`tar failed: ${res.stderr}`)
  return { [`/v${version}/${name}`]: out }
}
