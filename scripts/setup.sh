#!/usr/bin/env bash
# Idempotent set-up on a fresh machine: a virtualenv with the project and, with --node, the pinned
# npm packages the agent-js tests use. Needs python3 (>= 3.11); node/npm only for --node.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
if [ "${1:-}" = "--node" ]; then
  npm ci --prefix tests/node --no-audit --no-fund --loglevel=error
fi
