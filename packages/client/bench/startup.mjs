#!/usr/bin/env node
// Start-up cost of a thin client: a fresh Node process that loads an HTTP client, sends one
// request to a daemon over a unix socket and prints the answer — @cnm/client (node:http) beside
// undici (its Agent on a unix socket), in the same run, against the same tiny server in this
// process. Not a test: it prints medians and ratios (BENCHMARKS.md records them).
//
//   pnpm --filter @cnm/client build && node packages/client/bench/startup.mjs [runs]
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const RUNS = Number(process.argv[2] ?? 30)
const here = path.dirname(fileURLToPath(import.meta.url))
const clientEntry = path.join(here, '..', 'dist', 'index.js')
const undiciEntry = import.meta.resolve('undici')
const tmp = mkdtempSync(path.join(tmpdir(), 'cnm-client-bench-'))
const socketPath = path.join(tmp, 'd.sock')
const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end('{"version":"0.0.0"}')
})
await new Promise((resolve) => server.listen(socketPath, resolve))

const variants = {
  'node -e 0 (the floor)': '0',
  'load node:http': "await import('node:http')",
  'load undici': `await import(${JSON.stringify(undiciEntry)})`,
  '@cnm/client (node:http): load + 1 request': `const { createClient } = await import(${JSON.stringify(clientEntry)}); const c = createClient({ host: ${JSON.stringify(socketPath)} }); console.log((await c.version()).version); c.close()`,
  'undici Agent: load + 1 request': `const { Agent, request } = await import(${JSON.stringify(undiciEntry)}); const dispatcher = new Agent({ connect: { socketPath: ${JSON.stringify(socketPath)} } }); const r = await request('http://cnm/v1/version', { dispatcher }); console.log((await r.body.json()).version); await dispatcher.close()`,
  'fetch (Node 20 built-in undici, TCP needs no socketPath: unix sockets need the undici package)': `await fetch('data:,x')`,
}

/** One fresh process running `code` (spawned asynchronously: this process serves its request). */
function once(code) {
  const t = process.hrtime.bigint()
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'ignore', 'pipe'] })
    let err = ''
    child.stderr.on('data', (d) => {
      err += d
    })
    child.once('exit', (status) => {
      if (status !== 0) reject(new Error(`${code}: ${err}`))
      else resolve(Number(process.hrtime.bigint() - t) / 1e6)
    })
  })
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

const times = Object.fromEntries(Object.keys(variants).map((k) => [k, []]))
for (let i = 0; i < RUNS; i++) {
  // interleaved, so load on the machine hits every variant alike
  for (const [name, code] of Object.entries(variants)) times[name].push(await once(code))
}
server.close()
rmSync(tmp, { recursive: true, force: true })

const floor = median(times['node -e 0 (the floor)'])
console.log(`Node ${process.version}, ${RUNS} runs each, interleaved; medians (ms) and the cost above \`node -e 0\``)
for (const [name, xs] of Object.entries(times)) {
  const m = median(xs)
  console.log(`${m.toFixed(1).padStart(8)}  +${(m - floor).toFixed(1).padStart(6)}  ${name}`)
}
const ours = median(times['@cnm/client (node:http): load + 1 request']) - floor
const theirs = median(times['undici Agent: load + 1 request']) - floor
console.log(`\nundici's cost above the floor / @cnm/client's: ${(theirs / ours).toFixed(2)}x`)
