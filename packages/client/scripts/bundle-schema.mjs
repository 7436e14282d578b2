#!/usr/bin/env node
// Bundles `@cnm/client/schema` (the API's TypeBox schemas) into one ES module, dist/schema/bundle.js,
// with TypeBox inlined: TypeBox 1.x is ~370 small ES modules, and Node's ESM loader reads, links and
// compiles each one (~0.6 s of CPU here, against ~0.03 s for the one file: see BENCHMARKS.md). The
// daemon loads the schemas at every start. The types stay those of dist/schema/index.d.ts.
import path from 'node:path'
import { rolldown } from 'rolldown'

const dist = path.resolve(import.meta.dirname, '..', 'dist', 'schema')
const bundle = await rolldown({
  input: path.join(dist, 'index.js'),
  platform: 'node',
  treeshake: true,
  logLevel: 'warn',
  external: (id) => id.startsWith('node:'),
})
await bundle.write({ file: path.join(dist, 'bundle.js'), format: 'esm', codeSplitting: false, sourcemap: false })
await bundle.close()
