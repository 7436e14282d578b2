#!/usr/bin/env bash
# The README's main job: set everything up, then run `cnm demo` — a bridge network, two sandboxes
# running HTTP servers, a published port, and real traffic checks — inside a throwaway network
# namespace that plays the host, so the machine is left untouched. Extra arguments go to the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node packages/cli/dist/bin.js demo "$@"
