#!/usr/bin/env node
// `pnpm docs`: the API reference of every published package (TypeDoc, typedoc.json) into
// docs/api, failing on a broken link or any other TypeDoc warning, on any undocumented export
// (class, function, interface, type, variable, enum, and each method and accessor of an exported
// interface or class; fields are not required), and on a package README that does not link its
// API page or has a relative link to a file that does not exist. There is no baseline: every
// export is documented, and stays so.
//
// With `--cache DIR` (the test command passes its cache directory), a tree that passed before is
// not checked again: the key is the sha256 of every file git would see here (tracked and
// untracked, not ignored: each path and its bytes, the lockfile and so TypeDoc's version among
// them) and of Node's version; the reference is then not written to docs/api.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { readmeLinkProblems } from './readme-links.mjs'

const root = path.resolve(import.meta.dirname, '..')

/** The file that says this tree passed, or undefined without `--cache`. */
function passedEntry() {
  const at = process.argv.indexOf('--cache')
  const dir = at > 0 ? process.argv[at + 1] : undefined
  if (!dir) return undefined
  const ls = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  })
  if (ls.status !== 0) return undefined // not a git checkout: check
  const h = createHash('sha256').update(`${process.version}\0`)
  for (const file of [...new Set(ls.stdout.split('\0').filter(Boolean))].sort()) {
    h.update(`${file}\0`)
    try {
      h.update(readFileSync(path.join(root, file)))
    } catch {
      h.update('\0missing\0') // listed but deleted in the work tree
    }
    h.update('\0')
  }
  return path.join(dir, 'docs-checks', h.digest('hex'))
}

const entry = passedEntry()
if (entry && existsSync(entry)) {
  process.stdout.write('docs: this tree passed before (every file the same): not checked again\n')
  process.exit(0)
}

const res = spawnSync('pnpm', ['exec', 'typedoc', '--logLevel', 'Warn'], { cwd: root, encoding: 'utf8' })
// biome-ignore lint/suspicious/noControlCharactersInRegex: strips terminal colours
const lines = `${res.stdout}\n${res.stderr}`.replace(/\x1b\[[0-9;]*m/g, '').split('\n')
const undocumented = new Set()
const problems = []
for (const line of lines) {
  const m = line.match(/^\[(warning|error)\] (.*)$/)
  if (!m) continue
  const text = m[2] ?? ''
  const u = text.match(/^(.+) \((\w+)\), defined in (\S+), does not have any documentation$/)
  if (u) undocumented.add(`${u[3]} ${u[1]} (${u[2]})`)
  else if (!/^Found \d+ errors and \d+ warnings$/.test(text)) problems.push(text)
}
if (res.status !== 0 && problems.length === 0) problems.push(`typedoc exited with status ${res.status}`)
// After TypeDoc, so that the API pages the READMEs link exist.
problems.push(...readmeLinkProblems(root))

const missing = [...undocumented].sort()
for (const p of problems) process.stdout.write(`docs: ${p}\n`)
for (const k of missing) process.stdout.write(`docs: undocumented export: ${k}\n`)
const failed = problems.length + missing.length
process.stdout.write(
  failed
    ? `docs: ${failed} problems (broken links, warnings, undocumented exports): document each export where it is declared (TSDoc: what it is, units, defaults, errors with their codes)\n`
    : 'docs: API reference in docs/api; every export documented, every README links its API page\n',
)
// Recorded only for the tree TypeDoc read: a file edited while it ran gives another key.
if (!failed && entry && passedEntry() === entry) {
  try {
    mkdirSync(path.dirname(entry), { recursive: true, mode: 0o755 })
    writeFileSync(entry, 'passed\n', { flag: 'wx' }) // a new file, never through a symlink
  } catch {} // an unwritable cache only means checking again next time
}
process.exit(failed ? 1 : 0)
