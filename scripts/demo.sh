#!/usr/bin/env bash
# The README's main job: set everything up, then run the `cnm` command.
# Until `cnm demo` lands (issue: @cnm/cli), this prints `cnm --help`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node packages/cli/dist/bin.js --help
