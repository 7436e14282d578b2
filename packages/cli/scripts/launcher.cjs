#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS node
'use strict'
// The `cnm` command (the package's bin, copied to dist/cnm.cjs by scripts/bundle-bin.mjs). It runs
// dist/cnm-main.cjs, the bundle of the thin path, compiled with V8's code cache made at build time
// (dist/cnm-main.cache): without it Node compiles the 220 kB bundle and every function a command
// calls on each start. A cache V8 rejects (another Node or V8 flags) costs nothing but that compile.
// The bundle's `import()`s (the in-process and serving paths) go through this file's own, so they
// resolve from dist/ as Node's loader does for any module.
//
// The cache file starts with a copy of the bundle it was made from, and is used only when that copy
// equals the bundle byte for byte: V8 checks a cache against the source's length, not its content,
// so a bundle edited in place to the same length would otherwise run the old code its cache holds.
// Comparing 220 kB costs ~0.05 ms; hashing them cost 2-3 ms of a command's start (node:crypto's
// first use loads its internals).
const { readFileSync } = require('node:fs')
const { join } = require('node:path')
const { Script } = require('node:vm')

const file = join(__dirname, 'cnm-main.cjs')
const bytes = readFileSync(file)
let cachedData
try {
  const cache = readFileSync(join(__dirname, 'cnm-main.cache'))
  if (cache.length > bytes.length && cache.subarray(0, bytes.length).equals(bytes))
    cachedData = cache.subarray(bytes.length)
} catch {}
// Kept on one line with the bundle's first: its line numbers stay those of cnm-main.cjs.
const source = `(function (exports, require, module, __filename, __dirname, __cnmImport) {${bytes.toString('utf8')}\n})`
const script = new Script(source, { filename: file, cachedData })
module.exports = script
script.runInThisContext()(exports, require, module, file, __dirname, (specifier) => import(specifier))
