#!/usr/bin/env node
// A package's install script: `"install": "cnm-build-addon"` builds the addon of the package in
// the working directory (npm and pnpm run install scripts there), or of the directory given.
import path from 'node:path'
import { buildAddon } from '../src/index.js'

const dir = process.argv[2]
process.exit(buildAddon({ packageDir: dir ? path.resolve(dir) : process.cwd() }))
