#!/usr/bin/env bash
# Set up everything (Python and npm packages) and run every test: unit, end-to-end with real agents
# (icp-py-core and agent-js against real emulator processes), conformance and load-test smoke.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --node
.venv/bin/python -m pytest "$@"
