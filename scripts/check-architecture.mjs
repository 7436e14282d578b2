#!/usr/bin/env node
// Keeps ARCHITECTURE.md's package graph true. The graph is drawn from the real package.json files:
// the block between the `graph:begin` and `graph:end` markers must equal what this script derives
// (`--write` rewrites it). Also fails when a package imports a @cnm package it does not declare, or
// declares one it never imports, or when the arrows form a cycle.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '..')
const doc = path.join(root, 'ARCHITECTURE.md')
const BEGIN = '<!-- graph:begin (written by scripts/check-architecture.mjs --write) -->'
const END = '<!-- graph:end -->'

/** Every workspace package: name, dir, private flag, @cnm dependencies (runtime and dev). */
function packages() {
  const out = []
  for (const group of ['packages', 'tools']) {
    let dirs = []
    try {
      dirs = readdirSync(path.join(root, group))
    } catch {
      continue
    }
    for (const d of dirs) {
      const dir = path.join(group, d)
      let pkg
      try {
        pkg = JSON.parse(readFileSync(path.join(root, dir, 'package.json'), 'utf8'))
      } catch {
        continue
      }
      const cnm = (deps) => Object.keys(deps ?? {}).filter((n) => n.startsWith('@cnm/'))
      out.push({
        name: pkg.name,
        scripts: JSON.stringify(pkg.scripts ?? {}),
        bins: typeof pkg.bin === 'string' ? [pkg.name.split('/')[1]] : Object.keys(pkg.bin ?? {}),
        dir,
        private: pkg.private === true,
        deps: cnm(pkg.dependencies).sort(),
        devDeps: cnm(pkg.devDependencies).sort(),
      })
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name))
}

/** Source files of a package (not tests, not build output). */
function sources(dir, prod) {
  const files = []
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name === 'node_modules' || e.name === 'dist') continue
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (/\.(ts|mts|mjs|js)$/u.test(e.name)) files.push(p)
    }
  }
  for (const sub of prod ? ['src'] : ['src', 'test', 'bench', 'scripts']) {
    try {
      walk(path.join(root, dir, sub))
    } catch {}
  }
  const isTest = (f) => /\.test\.|test-util|\/testing\/|\/test\//u.test(f) && !/\/src\/testing\//u.test(f)
  return prod ? files.filter((f) => !isTest(f)) : files
}

function imported(files) {
  const names = new Set()
  for (const f of files) {
    const text = readFileSync(f, 'utf8')
    for (const m of text.matchAll(/(?:from|import\(|require\()\s*['"](@cnm\/[a-z0-9-]+)/gu)) names.add(m[1])
  }
  return names
}

/** Layers, bottom first: a package's layer is one more than its highest dependency's. */
function layers(pkgs) {
  const byName = new Map(pkgs.map((p) => [p.name, p]))
  const level = new Map()
  const visiting = new Set()
  const visit = (name, trail) => {
    if (level.has(name)) return level.get(name)
    if (visiting.has(name)) throw new Error(`dependency cycle: ${[...trail, name].join(' -> ')}`)
    visiting.add(name)
    const deps = byName.get(name)?.deps ?? []
    const l = deps.length === 0 ? 0 : 1 + Math.max(...deps.map((d) => visit(d, [...trail, name])))
    visiting.delete(name)
    level.set(name, l)
    return l
  }
  for (const p of pkgs) visit(p.name, [])
  return level
}

function render(pkgs) {
  const level = layers(pkgs)
  const published = pkgs.filter((p) => !p.private)
  const max = Math.max(...published.map((p) => level.get(p.name)))
  const lines = ['```text', 'layer  package               depends on (runtime)']
  for (let l = max; l >= 0; l--) {
    for (const p of published.filter((x) => level.get(x.name) === l)) {
      lines.push(`${String(l).padEnd(6)} ${p.name.padEnd(21)} ${p.deps.length ? p.deps.join(', ') : '—'}`)
    }
  }
  lines.push('```')
  const priv = pkgs.filter((p) => p.private)
  if (priv.length > 0) {
    lines.push('', 'Private workspace packages (never published):', '')
    for (const p of priv)
      lines.push(`- \`${p.name}\` (${p.dir}): uses ${[...p.deps, ...p.devDeps].join(', ') || 'nothing of cnm'}`)
  }
  return lines.join('\n')
}

const pkgs = packages()
const problems = []
const binsOf = new Map(pkgs.map((p) => [p.name, p.bins]))
for (const p of pkgs) {
  const used = imported(sources(p.dir, true))
  // An install-time tool counts as used when the package's own scripts name it.
  for (const d of p.deps) {
    const named = p.scripts.includes(d) || (binsOf.get(d) ?? []).some((b) => p.scripts.includes(b))
    if (!used.has(d) && !named) problems.push(`${p.name} declares ${d} but its source never imports it`)
  }
  for (const u of used) {
    if (u !== p.name && !p.deps.includes(u))
      problems.push(`${p.name} imports ${u} in its source but does not declare it`)
  }
  const all = imported(sources(p.dir, false))
  for (const u of all) {
    if (u !== p.name && !p.deps.includes(u) && !p.devDeps.includes(u))
      problems.push(`${p.name} imports ${u} (tests, bench or scripts) but declares it nowhere`)
  }
}
let graph = ''
try {
  graph = render(pkgs)
} catch (err) {
  problems.push(err.message)
}
const text = readFileSync(doc, 'utf8')
const start = text.indexOf(BEGIN)
const end = text.indexOf(END)
if (start < 0 || end < start) problems.push(`ARCHITECTURE.md has no ${BEGIN} … ${END} block`)
else {
  const current = text.slice(start + BEGIN.length, end).trim()
  if (current !== graph) {
    if (process.argv.includes('--write')) {
      writeFileSync(doc, `${text.slice(0, start + BEGIN.length)}\n${graph}\n${text.slice(end)}`)
      process.stdout.write('ARCHITECTURE.md: graph rewritten\n')
    } else {
      problems.push(
        'ARCHITECTURE.md: the package graph is out of date (run node scripts/check-architecture.mjs --write)',
      )
    }
  }
}
for (const p of problems) process.stdout.write(`${p}\n`)
if (problems.length === 0)
  process.stdout.write(`architecture: ${pkgs.length} packages, graph current, dependencies as declared\n`)
process.exit(problems.length ? 1 : 0)
