#!/usr/bin/env bash
# Runs the shared validation conformance cases against ./bin/ate. They live beside the
# checkout (../shared); ATE_CONFORMANCE_DIR points elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${ATE_CONFORMANCE_DIR:-../shared/conformance}"
if [[ ! -x "$dir/validation/run.sh" ]]; then
  echo "conformance cases not found at $dir/validation/run.sh: set ATE_CONFORMANCE_DIR" >&2
  exit 1
fi
"$dir/validation/run.sh" ./bin/ate
