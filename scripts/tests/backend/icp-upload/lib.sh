#!/usr/bin/env bash
# Shared helpers of the icp-upload end-to-end scripts (seed task 1.4). Sourced, never run.
#
# Every script runs against any target speaking the IC HTTP interface (the emulator or a dfx replica):
#
#   URL          IC endpoint                     (default http://127.0.0.1:4943)       flag --url
#   CANISTER_ID  the artifact canister           (default uxrrr-q7777-77774-qaaaq-cai) flag --canister-id
#   ADMIN_URL    emulator admin API, optional    (clock control, stored-bytes checks)  flag --admin-url
#
# Limits of the target, if it was built with other values than the contract's defaults:
#   MAX_CHUNK_SIZE (1048576), MAX_ASSET_SIZE (104857600), SESSION_LIFETIME_SECONDS (1800),
#   MAX_ACTIVE_SESSIONS (3).
# The client is `python -m clients.cli` from this checkout (override with SF_CLI, e.g. "storeforever").
#
# Each script uses a fresh identity (its own XDG_CONFIG_HOME), so scripts never share sessions or
# quotas. A script exits 0 (PASS), 77 (SKIP, with the reason on its last line) or 1 (FAIL).

set -euo pipefail

LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$LIB_DIR/../../../.." && pwd)"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --url) URL="$2"; shift 2 ;;
    --canister-id) CANISTER_ID="$2"; shift 2 ;;
    --admin-url) ADMIN_URL="$2"; shift 2 ;;
    -h|--help) sed -n '2,18p' "$LIB_DIR/lib.sh"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

URL="${URL:-http://127.0.0.1:4943}"
CANISTER_ID="${CANISTER_ID:-uxrrr-q7777-77774-qaaaq-cai}"
ADMIN_URL="${ADMIN_URL:-}"
MAX_CHUNK_SIZE="${MAX_CHUNK_SIZE:-1048576}"
MAX_ASSET_SIZE="${MAX_ASSET_SIZE:-104857600}"
SESSION_LIFETIME_SECONDS="${SESSION_LIFETIME_SECONDS:-1800}"
MAX_ACTIVE_SESSIONS="${MAX_ACTIVE_SESSIONS:-3}"
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x "$REPO/.venv/bin/python" ]]; then PYTHON="$REPO/.venv/bin/python"; else PYTHON="python3"; fi
fi
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/icp-upload.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
export XDG_CONFIG_HOME="$WORK/config"
unset STOREFOREVER_IDENTITY STOREFOREVER_URL STOREFOREVER_CANISTER_ID

OUT=""   # stdout (one JSON document) of the last `sf` call
RC=0     # its exit code

# sf ARGS...: run a client command with --json against the target; sets OUT and RC, never exits.
sf() {
  local cmd
  if [[ -n "${SF_CLI:-}" ]]; then read -r -a cmd <<< "$SF_CLI"; else cmd=("$PYTHON" -m clients.cli); fi
  RC=0
  OUT="$(cd "$REPO" && "${cmd[@]}" "$@" --url "$URL" --canister-id "$CANISTER_ID" --json --quiet \
         --retry-base-delay "${RETRY_BASE_DELAY:-0.2}" --retry-max-delay "${RETRY_MAX_DELAY:-1}" \
         2>"$WORK/stderr")" || RC=$?
  echo "\$ sf $* -> exit $RC" >&2
}

# jget EXPR: a Python expression over `d`, the last JSON output (strings printed bare).
jget() {
  "$PYTHON" -c 'import json, sys
d = json.loads(sys.argv[2])
v = eval(sys.argv[1])
print(v if isinstance(v, str) else json.dumps(v))' "$1" "$OUT"
}

pass() { echo "PASS${1:+: $1}"; exit 0; }
skip() { echo "SKIP: $1"; exit 77; }
fail() {
  echo "FAIL: $1"
  echo "last output: $OUT"
  [[ -s "$WORK/stderr" ]] && { echo "last stderr:"; tail -n 20 "$WORK/stderr"; }
  exit 1
}

# check DESCRIPTION EXPR: fail unless the Python expression over `d` is true.
check() {
  local got
  got="$(jget "bool($2)")" || fail "$1: cannot evaluate $2"
  [[ "$got" == "true" ]] || fail "$1 ($2)"
}

expect_rc() {
  [[ "$RC" == "$1" ]] || fail "${2:-command} exited $RC, expected $1"
}

new_uuid() { "$PYTHON" -c 'import uuid; print(uuid.uuid4())'; }

# make_file PATH SIZE: random bytes (SIZE in bytes).
make_file() { "$PYTHON" -c 'import os, sys
size = int(sys.argv[2])
with open(sys.argv[1], "wb") as f:
    while size:
        n = min(size, 1 << 20); f.write(os.urandom(n)); size -= n' "$1" "$2"; }

# make_sparse PATH SIZE: a file of SIZE zero bytes without writing them (for oversize checks).
make_sparse() { "$PYTHON" -c 'import sys; f = open(sys.argv[1], "wb"); f.truncate(int(sys.argv[2])); f.close()' "$1" "$2"; }

sha256_of() { "$PYTHON" -c 'import hashlib, sys
h = hashlib.sha256()
with open(sys.argv[1], "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""): h.update(block)
print(h.hexdigest())' "$1"; }

# principal: this script's caller principal (from the identity the client created).
principal() { "$PYTHON" -c 'from clients.cli import default_identity_path
from clients.ic import load_pem_file, principal_of
print(principal_of(load_pem_file(default_identity_path())))'; }

# admin METHOD PATH [JSON]: call the emulator's admin API; prints the JSON answer.
admin() { "$PYTHON" -c 'import json, sys, urllib.request
method, url, body = sys.argv[1], sys.argv[2], sys.argv[3]
req = urllib.request.Request(url, data=body.encode() if body else None, method=method,
                             headers={"Content-Type": "application/json"})
with urllib.request.urlopen(req, timeout=60) as r:
    print(r.read().decode())' "$1" "${ADMIN_URL%/}$2" "${3:-}"; }
