#!/usr/bin/env bash
# Prints the directory of the caches that outlive a checkout (the build cache of scripts/setup.sh,
# the package checks' results), creating it: $CNM_CACHE_DIR, else /var/cache/cnm as root, else
# ${XDG_CACHE_HOME:-~/.cache}/cnm. Every entry in it is keyed by the content it was made from.
set -euo pipefail
dir="${CNM_CACHE_DIR:-}"
if [ -z "$dir" ]; then
  if [ "$(id -u)" -eq 0 ]; then dir=/var/cache/cnm; else dir="${XDG_CACHE_HOME:-$HOME/.cache}/cnm"; fi
fi
mkdir -p -m 0755 "$dir"
printf '%s\n' "$dir"
