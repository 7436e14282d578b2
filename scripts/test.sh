#!/usr/bin/env bash
# The README's test command (and exactly what .ci/run runs): set-up, lint, typecheck, build,
# package checks (publint + attw), then every test including the kernel tests. The last line of
# output is always `N passed, N failed, N skipped`.
set -uo pipefail
cd "$(dirname "$0")/.."
export TURBO_TELEMETRY_DISABLED=1
CNM_TEST_STARTED="$(date +%s)"
export CNM_TEST_STARTED

step() {
  local name="$1"
  shift
  printf '\n==> %s (%s s in)\n' "$name" "$(($(date +%s) - CNM_TEST_STARTED))"
  if ! "$@"; then
    printf '\n%s failed\n\n0 passed, 1 failed, 0 skipped\n' "$name"
    exit 1
  fi
}

step setup bash scripts/setup.sh
step lint pnpm exec biome ci --colors=off .
step architecture node scripts/check-architecture.mjs
# One TypeScript program over every package's sources and tests (and the root's test helpers): a
# fifth of the CPU of one `tsc` per package, which loads the same libraries twenty times.
step typecheck pnpm exec tsc -p tsconfig.typecheck.json
step "package checks" node scripts/check-packages.mjs
step docs node scripts/check-docs.mjs
printf '\n==> tests\n'
exec pnpm exec vitest run
