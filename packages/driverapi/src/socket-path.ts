import { lstatSync } from 'node:fs'

/**
 * Whether a path is a unix socket (lstat: never following a link); throws (ENOENT) when nothing is
 * there. Every server of cnm's (the daemon's REST socket, the Docker plugin's) checks its socket
 * path with this before it listens or removes a stale socket, and must: Node 20's
 * `fs.realpathSync`, which resolves every module import, reads the file type of the last stat this
 * thread made when a path component is already in its cache. After a plain `lstatSync` of a socket
 * it stops early and leaves symlinks unresolved (a package's dependency then "cannot be found",
 * "fastify is not a function"). This helper stats the root directory right after, which puts a
 * directory's type back.
 */
export function isSocketPath(file: string): boolean {
  try {
    return lstatSync(file).isSocket()
  } finally {
    lstatSync('/')
  }
}
