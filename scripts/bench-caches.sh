#!/usr/bin/env bash
# bash scripts/bench-caches.sh: what the caches that outlive a checkout save the test command, in
# one run. Two clean clones of this repository's HEAD in a temporary directory, with an empty
# cache directory of their own (CNM_CACHE_DIR, so the machine's cache is neither used nor
# changed): the first clone's set-up and package checks fill it (the baseline: no cache), the
# second's use it. Prints wall and CPU time (user + system, children included) of each and the
# ratios, then the proof that nothing stale is used: a source changed in the second clone is
# rebuilt, and its package's tarball is checked again.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d /tmp/cnm-bench-caches-XXXXXX)"
trap 'rm -rf "$work"' EXIT
export CNM_CACHE_DIR="$work/cache" TURBO_TELEMETRY_DISABLED=1

# measure LABEL DIR COMMAND...: runs COMMAND in DIR, prints "LABEL wall cpu", keeps the output.
measure() {
  local label="$1" dir="$2"
  shift 2
  /usr/bin/time -f "%e %U %S" -o "$work/$label.time" bash -c 'cd "$1" && shift && "$@"' _ "$dir" "$@" \
    >"$work/$label.log" 2>&1 || {
    echo "$label failed:"
    tail -n 30 "$work/$label.log"
    exit 1
  }
  read -r wall user sys <"$work/$label.time"
  printf '%s %s %s\n' "$label" "$wall" "$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" >>"$work/results"
}

echo "load: $(uptime | sed 's/.*load average/load average/')"
for c in cold warm; do git clone -q "$root" "$work/$c"; done
measure setup-cold "$work/cold" bash scripts/setup.sh
measure setup-warm "$work/warm" bash scripts/setup.sh
measure checks-cold "$work/cold" node scripts/check-packages.mjs
measure checks-warm "$work/warm" node scripts/check-packages.mjs

# Nothing stale: a changed source rebuilds its package (and what depends on it), and the changed
# package's tarball is checked again while the others still come from the cache.
printf '\n// bench-caches: a changed source\n' >>"$work/warm/packages/ip/src/index.ts"
measure setup-changed "$work/warm" bash scripts/setup.sh
measure checks-changed "$work/warm" node scripts/check-packages.mjs
rebuilt="$(grep -o 'Cached: *[0-9]* cached, [0-9]* total' "$work/setup-changed.log" || true)"
rechecked="$(grep -c 'ok$' "$work/checks-changed.log" || true)"
echo "load: $(uptime | sed 's/.*load average/load average/')"

awk '
  { wall[$1] = $2; cpu[$1] = $3 }
  END {
    printf "%-16s %10s %10s\n", "", "wall s", "cpu s"
    for (k in wall) printf "%-16s %10.1f %10.1f\n", k, wall[k], cpu[k]
    printf "set-up, warm against cold: wall %.2fx, cpu %.2fx\n", wall["setup-warm"] / wall["setup-cold"], cpu["setup-warm"] / cpu["setup-cold"]
    printf "package checks, warm against cold: wall %.2fx, cpu %.2fx\n", wall["checks-warm"] / wall["checks-cold"], cpu["checks-warm"] / cpu["checks-cold"]
  }' "$work/results"
echo "after changing packages/ip/src/index.ts: turbo $rebuilt (the rest rebuilt); $rechecked tarballs checked again (not from the cache)"
