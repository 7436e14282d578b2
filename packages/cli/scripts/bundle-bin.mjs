#!/usr/bin/env node
// Bundles the `cnm` command's thin path into one CommonJS file, dist/cnm.cjs (the package's bin):
// the commands, @cnm/client, @cnm/ip and @cnm/driverapi's errors, commander. Loading ~70 modules one
// by one costs more than all the rest of a command that talks to the daemon (see BENCHMARKS.md);
// one file is read and compiled once. CommonJS, not ESM: Node's ESM loader reads a module's source
// through fs/promises and wraps every builtin it imports (node:http, node:fs, …) in a module
// facade, tens of ms here that `require` does not spend. The heavy paths stay outside and are
// imported only when a command works in process or serves: the controller and everything below it,
// Fastify, and this package's own modules that use them (local-api.js, serve.js, demo/run.js), from
// dist/ as tsc built them.
import { execFileSync } from 'node:child_process'
import { chmodSync, copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { rolldown } from 'rolldown'

const dist = path.resolve(import.meta.dirname, '..', 'dist')
// bridge-pools.js imports @cnm/bridge (the whole stack): only `cnm serve --default-address-pool` needs it.
const HEAVY_FILES = new Set(
  ['local-api.js', 'serve.js', 'demo/run.js', 'bridge-pools.js'].map((f) => path.join(dist, f)),
)
const HEAVY_PACKAGES =
  /^(@cnm\/(controller|firewall|portmapper|netlink|sandbox|portallocator|bridge|cni|docker-plugin|etcd-store)|fastify|@fastify\/|typebox)(\/|$)/u
const out = path.join(dist, 'cnm-main.cjs')
const cache = path.join(dist, 'cnm-main.cache')
// The bin: scripts/launcher.cjs (its shebang drops NODE_EXTRA_CA_CERTS: Node 20 parses that bundle
// at start-up, tens of ms; cnm never uses the default CA store, TLS to a daemon takes its CA from
// --tlscacert). It runs the bundle with the code cache made below.
const bin = path.join(dist, 'cnm.cjs')
const scripts = import.meta.dirname

// dist/version.js reads the package's package.json when called (through URL and fs: ~0.5 ms of
// every command's start, for `--version`'s text that commander wants when the program is built):
// the bundle gets the version it was built with.
const version = JSON.parse(readFileSync(path.join(dist, '..', 'package.json'), 'utf8')).version
const inlineVersion = {
  name: 'cnm-inline-version',
  load(id) {
    if (path.resolve(id) !== path.join(dist, 'version.js')) return null
    return `export function cliVersion() { return ${JSON.stringify(version)} }\n`
  },
}
// Builtins that only some commands use (`cnm exec` spawns, `network rm` without -f prompts; and
// commander's own `require` of child_process, for executable subcommands cnm has none of): loaded
// on their first use instead of at every start (~1 ms together after node:net). Each top-level
// `require` of them in the bundle becomes a proxy that requires the module when a property is read
// (its helper is a function declaration at the end: hoisted, and the bundle's lines keep their numbers).
const LAZY_BUILTINS = /^(\s*)(let|const|var) (\w+) = require\("(node:(?:child_process|readline|os))"\);$/gmu
const LAZY_HELPER =
  '\nfunction __cnmLazy(id) { let m; return new Proxy({}, { get: (_, k) => (m ??= require(id))[k] }) }\n'

// The old cache goes first: V8 checks a cache against the source's length, not its content, so a
// cache left beside a new bundle could run old code.
rmSync(cache, { force: true })
const bundle = await rolldown({
  input: path.join(dist, 'bin.js'),
  platform: 'node',
  treeshake: true,
  logLevel: 'warn',
  plugins: [inlineVersion],
  external: (id, importer) => {
    if (id.startsWith('node:') || HEAVY_PACKAGES.test(id)) return true
    if (importer && id.startsWith('.')) return HEAVY_FILES.has(path.resolve(path.dirname(importer), id))
    return false
  },
})
await bundle.write({
  file: out,
  format: 'cjs',
  codeSplitting: false,
  sourcemap: false,
  paths: (id) => (HEAVY_FILES.has(id) ? `./${path.relative(dist, id)}` : id),
})
await bundle.close()
// The bundle's dynamic imports go through the launcher's own import() (a script compiled by node:vm
// has none of its own without an experimental flag): `__cnmImport` is its parameter.
const text =
  readFileSync(out, 'utf8')
    .replace(/^#!.*\n/u, '')
    .replace(/(?<![.$\w])import\((?=["'])/gu, '__cnmImport(')
    .replace(LAZY_BUILTINS, '$1$2 $3 = __cnmLazy("$4");') + LAZY_HELPER
// Any other `import(` (a template or a variable) would fail inside node:vm at run time: refuse it now.
const left = /(?<![.$\w])import\(\s*[^"'\s]/u.exec(text.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gmu, ''))
if (left)
  throw new Error(
    `bundle-bin: a dynamic import the launcher cannot serve: ${left.input.slice(left.index, left.index + 60)}`,
  )
writeFileSync(out, text)
copyFileSync(path.join(scripts, 'launcher.cjs'), bin)
chmodSync(bin, 0o755)
// V8's code cache of the bundle after one start-up (`cnm --version`): made by the Node that builds,
// used by the same Node; another one's V8 rejects it and compiles as before.
const env = { ...process.env, CNM_CODE_CACHE_OUT: cache }
delete env.NODE_EXTRA_CA_CERTS
delete env.NODE_OPTIONS
execFileSync(process.execPath, ['-r', path.join(scripts, 'code-cache-hook.cjs'), bin, '--version'], {
  env,
  stdio: ['ignore', 'ignore', 'inherit'],
})
