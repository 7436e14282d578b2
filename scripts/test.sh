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
step typecheck pnpm exec turbo run typecheck --output-logs=errors-only
step "package checks" node scripts/check-packages.mjs
printf '\n==> tests\n'
exec pnpm exec vitest run
