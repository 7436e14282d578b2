#!/usr/bin/env node
import { createProgram } from './program.js'

createProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    const e = err as { code?: string; message?: string }
    process.stderr.write(`cnm: ${e.message ?? String(err)}${e.code ? ` (${e.code})` : ''}\n`)
    process.exitCode = 1
  })
