#!/usr/bin/env bash
# The README's test command (and exactly what .ci/run runs): set-up (dependencies and the build),
# then every test including the kernel tests, with the static checks (lint, architecture,
# typecheck, package checks: publint + attw, docs) running beside them at a lower priority: the
# kernel and real-client tests mostly wait (daemons, the kernel, timeouts), the checks fill those
# waits. The checks' output is printed after the tests, each with its duration; a failed check
# counts as one failed test. The last line of output is always `N passed, N failed, N skipped`.
set -uo pipefail
cd "$(dirname "$0")/.."
export TURBO_TELEMETRY_DISABLED=1
CNM_TEST_STARTED="$(date +%s)"
export CNM_TEST_STARTED
# Caches that outlive the checkout, each keyed by content (scripts/cache-dir.sh).
CNM_CACHE_DIR="$(bash scripts/cache-dir.sh)"
export CNM_CACHE_DIR

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

checks_dir="$(mktemp -d)"
trap 'rm -rf "$checks_dir"' EXIT
# check NAME COMMAND...: runs one static check, its output and status kept for the end.
check() {
  local name="$1" started
  shift
  started="$(date +%s)"
  "$@" >"$checks_dir/$name.log" 2>&1
  printf '%s %s\n' "$?" "$(($(date +%s) - started))" >"$checks_dir/$name.status"
}
typecheck() {
  # One TypeScript program over every package's sources and tests (and the root's test helpers): a
  # fifth of the CPU of one `tsc` per package, which loads the same libraries twenty times.
  # Incremental: a file whose content (TypeScript keeps each file's hash) did not change since the
  # last run is not checked again. The state names files relative to itself, so it lives at the
  # same place in every checkout (node_modules/.cache) and a clean clone starts from the cache
  # directory's last copy; it goes back there (a rename: never half written) after the check.
  local tsstate=node_modules/.cache/cnm/typecheck.tsbuildinfo tscache="$CNM_CACHE_DIR/typecheck"
  mkdir -p "$(dirname "$tsstate")" "$tscache"
  [ -f "$tsstate" ] || cp "$tscache/last.tsbuildinfo" "$tsstate" 2>/dev/null || true
  check typecheck pnpm exec tsc -p tsconfig.typecheck.json --incremental --tsBuildInfoFile "$tsstate"
  cp "$tsstate" "$tscache/last.tsbuildinfo.$BASHPID" 2>/dev/null &&
    mv "$tscache/last.tsbuildinfo.$BASHPID" "$tscache/last.tsbuildinfo"
}
static_checks() {
  # All at once (each at the low priority they inherit): the ones still running when the tests are
  # done share both cores, instead of running one after another on one (50 s of a 300 s run).
  check lint pnpm exec biome ci --colors=off . &
  check architecture node scripts/check-architecture.mjs &
  typecheck &
  check package-checks node scripts/check-packages.mjs &
  check docs node scripts/check-docs.mjs --cache "$CNM_CACHE_DIR" &
  wait
}
printf '\n==> lint, architecture, typecheck, package checks, docs (beside the tests; reported after them)\n'
(
  renice -n 10 "$BASHPID" >/dev/null
  static_checks
) &
checks_pid=$!

printf '\n==> tests (%s s in)\n' "$(($(date +%s) - CNM_TEST_STARTED))"
# The summary reporter writes its counts here instead of printing the closing line.
# Without NODE_EXTRA_CA_CERTS when the environment sets it: Node reads that file's certificates at
# every start (40 ms of CPU each with the 144 of Debian's bundle), and a run starts Node ~1,100
# times (workers, `cnm`, daemons). Nothing under test talks TLS to a server with a private CA but
# the registry test's Verdaccio (its uplink), which gets the file back from CNM_EXTRA_CA_CERTS.
CNM_EXTRA_CA_CERTS="${NODE_EXTRA_CA_CERTS:-}" CNM_TEST_SUMMARY_FILE="$checks_dir/vitest.json" \
  env -u NODE_EXTRA_CA_CERTS pnpm exec vitest run
vitest_status=$?
wait "$checks_pid"

failed_checks=0
for name in lint architecture typecheck package-checks docs; do
  read -r status took <"$checks_dir/$name.status" 2>/dev/null || { status=1 took=0; }
  printf '\n==> %s (%s s, beside the tests)\n' "$name" "$took"
  cat "$checks_dir/$name.log" 2>/dev/null
  if [ "$status" -ne 0 ]; then
    printf '%s failed (status %s)\n' "$name" "$status"
    failed_checks=$((failed_checks + 1))
  fi
done

read -r passed failed skipped < <(node -e '
  try {
    const c = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"))
    console.log(c.passed, c.failed, c.skipped)
  } catch { console.log(0, 1, 0) }' "$checks_dir/vitest.json")
# vitest failing with no failed test (a crash, an unhandled error it did not count) is one failure.
if [ "$vitest_status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
failed=$((failed + failed_checks))
printf '\ntest command: %s s in all\n' "$(($(date +%s) - CNM_TEST_STARTED))"
printf '\n%s passed, %s failed, %s skipped\n' "$passed" "$failed" "$skipped"
[ "$failed" -eq 0 ]
