#!/usr/bin/env bash
# Set up (first run only) and start the emulator on http://127.0.0.1:4943 with its state in
# ./.storeforever. Any option of `storeforever emulator --help` can be appended.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/storeforever emulator "$@"
