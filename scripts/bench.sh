#!/usr/bin/env bash
# Run the benchmarks of issue 7 and write their table into docs/performance.md.
#
#   scripts/bench.sh            full sizes (about 10-15 minutes on 2 cores), updates docs/performance.md
#   scripts/bench.sh --quick    every stage once with tiny sizes (CI's check that nothing rotted);
#                               writes .benchmarks/results.json and prints the table, leaves docs/ alone
#
# Extra arguments go to `python -m benchmarks.run` (e.g. --only roundtrip upload).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  bash scripts/setup.sh
fi
PYTHONPATH=. exec .venv/bin/python -m benchmarks.run --command "scripts/bench.sh${*:+ $*}" "$@"
