#!/usr/bin/env bash
# Set up everything (Python and npm packages) and run every test: unit, end-to-end with real agents
# (icp-py-core and agent-js against real emulator processes), the load-test smoke profile and
# benchmark quick mode (under tests/), then the full conformance suite against a fresh emulator with
# its reports (matrix, JUnit) in reports/conformance/emulator/. Extra arguments go to the first pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --node --system
.venv/bin/python -m pytest "$@"
bash scripts/conformance.sh --snapshot-compare -q
