#!/usr/bin/env node
import { runCni } from './main.js'

process.exitCode = await runCni()
