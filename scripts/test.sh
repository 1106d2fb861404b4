#!/usr/bin/env bash
# Set up everything (Python, npm and Debian packages), run the quality gates (scripts/lint.sh: ruff,
# ruff format, mypy on the whole repository, import-linter's package rules), then every test: unit, end-to-end with real agents
# (icp-py-core and agent-js against real emulator processes), the load-test smoke profile and
# benchmark quick mode (under tests/), then the full conformance suite against a fresh emulator with
# its reports (matrix, JUnit) in reports/conformance/emulator/. Extra arguments go to the first pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --node --system
bash scripts/lint.sh
.venv/bin/python -m pytest "$@"
bash scripts/conformance.sh --snapshot-compare -q
