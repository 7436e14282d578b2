#!/usr/bin/env node
// cnm-build-addon [--prebuild] [--force] [--optional] [dir]
//   install (default): a package's `"install": "cnm-build-addon"` builds the addon of the package
//     in the working directory (npm and pnpm run install scripts there), or of `dir`, unless its
//     prebuilt addon loads here or its build is up to date. `--optional`: a failed build warns.
//   --prebuild: a package's `"prepack"` makes the prebuilds its tarball ships.
import path from 'node:path'
import { parseArgs } from 'node:util'
import { buildAddon, prebuildAddon } from '../src/index.js'

const { values, positionals } = parseArgs({
  options: { prebuild: { type: 'boolean' }, force: { type: 'boolean' }, optional: { type: 'boolean' } },
  allowPositionals: true,
})
const packageDir = positionals[0] ? path.resolve(positionals[0]) : process.cwd()
const force = values.force ? true : undefined
if (values.prebuild) process.exitCode = await prebuildAddon({ packageDir, force })
else process.exitCode = buildAddon({ packageDir, force, optional: values.optional ?? false })
