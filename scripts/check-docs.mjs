#!/usr/bin/env node
// `pnpm docs`: the API reference of every published package (TypeDoc, typedoc.json) into
// docs/api, failing on a broken link or any other TypeDoc warning, on any undocumented export
// (class, function, interface, type, variable, enum, and each method and accessor of an exported
// interface or class; fields are not required), and on a package README that does not link its
// API page or has a relative link to a file that does not exist. There is no baseline: every
// export is documented, and stays so.
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { readmeLinkProblems } from './readme-links.mjs'

const root = path.resolve(import.meta.dirname, '..')

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
process.exit(failed ? 1 : 0)
