#!/usr/bin/env bash
# Idempotent set-up on a fresh machine: a virtualenv with the project; with --node, the pinned npm
# packages the agent-js and icp-cli tests use; with --system, the Debian packages some tests drive
# for real (Chromium for the inspector's browser tests, PostgreSQL for the Web2 edge tests).
# --system needs root and apt-get; without them it says what is missing and the tests that need a
# package skip with that reason (under CI=true a missing package fails those tests instead).
# Needs python3 (>= 3.11); node/npm only for --node.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

# One list of the Debian packages the tests need; each entry: package:command-it-provides.
SYSTEM_PACKAGES=(
  "chromium:chromium"
  "postgresql:pg_ctlcluster"
)

want_node=0 want_system=0
for arg in "$@"; do
  case "$arg" in
    --node) want_node=1 ;;
    --system) want_system=1 ;;
    *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

install_system_packages() {
  local missing=() entry pkg cmd
  for entry in "${SYSTEM_PACKAGES[@]}"; do
    pkg=${entry%%:*} cmd=${entry#*:}
    if ! command -v "$cmd" >/dev/null 2>&1 && ! dpkg -s "$pkg" >/dev/null 2>&1; then
      missing+=("$pkg")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "setup.sh: cannot install ${missing[*]} (needs root and apt-get); tests that need them will skip" >&2
    return 0
  fi
  echo "setup.sh: apt-get install ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

if [ "$want_system" = 1 ]; then
  install_system_packages
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
if [ "$want_node" = 1 ]; then
  npm ci --prefix tests/node --no-audit --no-fund --loglevel=error
fi
