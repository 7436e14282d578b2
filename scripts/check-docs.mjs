#!/usr/bin/env node
// `pnpm docs`: the API reference of every published package (TypeDoc, typedoc.json) into
// docs/api, failing on a broken link or any other TypeDoc warning, and on an undocumented export
// (class, function, interface, type, variable, enum) that is not in docs/undocumented.txt. That
// list only shrinks: it holds the exports that were undocumented when the check was introduced;
// document one and drop its line (`--write-baseline` rewrites the list from the current state).
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '..')
const baselineFile = path.join(root, 'docs', 'undocumented.txt')
const writeBaseline = process.argv.includes('--write-baseline')

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

if (writeBaseline) {
  writeFileSync(baselineFile, `${[...undocumented].sort().join('\n')}\n`)
  process.stdout.write(
    `docs: wrote ${undocumented.size} undocumented exports to ${path.relative(root, baselineFile)}\n`,
  )
}
let baseline = new Set()
try {
  baseline = new Set(readFileSync(baselineFile, 'utf8').split('\n').filter(Boolean))
} catch {}
const added = [...undocumented].filter((k) => !baseline.has(k)).sort()
const fixed = [...baseline].filter((k) => !undocumented.has(k)).sort()
for (const p of problems) process.stdout.write(`docs: ${p}\n`)
for (const k of added) process.stdout.write(`docs: undocumented export: ${k}\n`)
if (fixed.length) {
  process.stdout.write(`docs: ${fixed.length} exports of docs/undocumented.txt are documented now; drop their lines:\n`)
  for (const k of fixed) process.stdout.write(`  ${k}\n`)
}
const failed = problems.length + added.length
process.stdout.write(
  failed
    ? `docs: ${failed} problems (broken links, warnings, undocumented exports)\n`
    : `docs: API reference in docs/api; ${undocumented.size} exports still on the undocumented list\n`,
)
process.exit(failed ? 1 : 0)
