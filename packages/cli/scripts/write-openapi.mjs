#!/usr/bin/env node
// Writes packages/cli/openapi.json: the daemon's OpenAPI 3.1 document, made from the routes'
// TypeBox schemas (build first), in the repository's JSON format (biome). A test fails when the
// committed file is not what the code makes.
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { buildOpenApiDocument } from '../dist/api/openapi.js'

const file = path.resolve(import.meta.dirname, '..', 'openapi.json')
writeFileSync(file, `${JSON.stringify(await buildOpenApiDocument(), null, 2)}\n`)
const fmt = spawnSync('pnpm', ['exec', 'biome', 'format', '--write', file], { stdio: 'inherit' })
if (fmt.status !== 0) process.exitCode = 1
console.log(`wrote ${file}`)
