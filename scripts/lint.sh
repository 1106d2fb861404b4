#!/usr/bin/env bash
# The quality gates CI runs before the tests (and pre-commit runs on commit): lint, format, types on the
# whole repository (tests included) and the package rules of ARCHITECTURE.md.
set -euo pipefail
cd "$(dirname "$0")/.."
V=.venv/bin
"$V/ruff" check .
"$V/ruff" format --check .
"$V/mypy" contract emulator clients storeforever conformance loadtests benchmarks tests
"$V/lint-imports"
