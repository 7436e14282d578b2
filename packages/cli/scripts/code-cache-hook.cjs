'use strict'
// Loaded with `node -r` by scripts/bundle-bin.mjs while it runs `dist/cnm.cjs --version` once: when
// that process exits, writes V8's code cache of the bundle as it then is (the launcher's script,
// which it exports, with the functions the start-up compiled) to $CNM_CODE_CACHE_OUT, after a copy
// of the bundle it was made from (the launcher uses the cache with those bytes only).
const { readFileSync, writeFileSync } = require('node:fs')
const { dirname, join } = require('node:path')

const out = process.env.CNM_CODE_CACHE_OUT
if (!out) throw new Error('CNM_CODE_CACHE_OUT is not set')
process.on('exit', () => {
  const script = process.mainModule?.exports // `require.main` of a preloaded module is unset
  if (typeof script?.createCachedData !== 'function') {
    process.stderr.write('code-cache-hook: the launcher did not export its script\n')
    process.exitCode = 1
    return
  }
  const bundle = readFileSync(join(dirname(process.mainModule.filename), 'cnm-main.cjs'))
  writeFileSync(out, Buffer.concat([bundle, script.createCachedData()]))
})
