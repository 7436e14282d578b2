#!/usr/bin/env node
// Benchmark (not a test) for issue 14: the CPU time `cnm serve` spends building its REST API server
// (Fastify, every route with its TypeBox schemas, the OpenAPI plugin) until `ready()`, with the
// routes' validators compiled lazily (the default: on first use, the rest after listening) against
// eagerly (Fastify's default: all while building). Each sample is a fresh Node process (modules
// loaded before the clock starts), the two variants interleaved; prints medians and the ratio.
//
//   pnpm --filter @cnm/cli build && node packages/cli/bench/api-build.mjs [samples, default 15]
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const SAMPLES = Number(process.argv[2] ?? 15)
const here = path.dirname(fileURLToPath(import.meta.url))
const server = pathToFileURL(path.join(here, '..', 'dist', 'api', 'server.js')).href

const child = `
const { createApiServer } = await import(${JSON.stringify(server)})
const c0 = process.cpuUsage()
const app = createApiServer({ controller: {}, logger: false, validators: process.env.VALIDATORS })
await app.ready()
const c = process.cpuUsage(c0)
console.log((c.user + c.system) / 1000)
await app.close()
`
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const samples = { lazy: [], eager: [] }
for (let i = 0; i < SAMPLES; i++) {
  for (const v of i % 2 === 0 ? ['lazy', 'eager'] : ['eager', 'lazy']) {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', child], {
      env: { ...process.env, VALIDATORS: v },
      encoding: 'utf8',
    })
    if (r.status !== 0) throw new Error(`${v}: ${r.stderr}`)
    samples[v].push(Number(r.stdout.trim().split('\n').at(-1)))
  }
}
const lazy = median(samples.lazy)
const eager = median(samples.eager)
console.log(`building the API server until ready(), CPU ms, medians of ${SAMPLES} fresh processes:`)
console.log(
  `| validators | CPU ms |\n|---|---|\n| eager (Fastify's default) | ${eager.toFixed(1)} |\n| lazy (cnm serve) | ${lazy.toFixed(1)} |`,
)
console.log(`lazy / eager: ${(lazy / eager).toFixed(2)}`)
