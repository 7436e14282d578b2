#!/usr/bin/env node
import { describeFailure } from './failure.js'
import { createProgram } from './program.js'

// No top-level await: the bin is also bundled as CommonJS (scripts/bundle-bin.mjs).
createProgram({ argv: process.argv })
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    const { line, exitCode } = describeFailure(err)
    if (line) process.stderr.write(`${line}\n`)
    process.exitCode = exitCode
  })
