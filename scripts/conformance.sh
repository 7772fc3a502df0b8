#!/usr/bin/env bash
# Runs the shared validation conformance cases against ./bin/ate when they are there (beside the
# checkout in ../shared, as in CI; ATE_CONFORMANCE_DIR points elsewhere). A plain clone has none:
# the project's own validation tests (src/api/schema/*.test.ts) run in `npm run test:unit`.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${ATE_CONFORMANCE_DIR:-../shared/conformance}"
if [[ ! -x "$dir/validation/run.sh" ]]; then
  if [[ -n "${ATE_CONFORMANCE_DIR:-}" ]]; then
    echo "conformance cases not found at $dir/validation/run.sh (ATE_CONFORMANCE_DIR)" >&2
    exit 1
  fi
  echo "conformance: skipped (no shared cases at $dir; set ATE_CONFORMANCE_DIR to run them)"
  exit 0
fi
"$dir/validation/run.sh" ./bin/ate
