#!/usr/bin/env node
import { describeFailure } from './failure.js'
import { createProgram } from './program.js'

try {
  await createProgram().parseAsync(process.argv)
} catch (err) {
  const { line, exitCode } = describeFailure(err)
  if (line) process.stderr.write(`${line}\n`)
  process.exitCode = exitCode
}
