#!/usr/bin/env bash
# Run a command (the web app's own tests, say) against a fresh emulator, then stop it.
#
#   bash scripts/with-emulator.sh [EMULATOR_OPTIONS... --] CMD [ARGS...]
#
# Starts `storeforever emulator` on free ports with a fresh state directory (a private temp dir),
# waits until it is ready, and runs CMD with the variables of `storeforever emulator --write-env`
# added to its environment: IC_HOST, NEXT_PUBLIC_IC_HOST, VITE_IC_HOST, ICP_NETWORK (the URL), DFX_NETWORK,
# CANISTER_ID_BACKEND (+ NEXT_PUBLIC_/VITE_ prefixed), PUBLIC_CANISTER_ID:backend and
# STOREFOREVER_ADMIN_URL. Emulator options (e.g. --controller me.pem, --limit NAME=VALUE) go before a
# `--`; when the first argument is no option, every argument is the command. Whatever happens, the emulator is stopped and its
# state deleted; the exit status is CMD's. Examples:
#   bash scripts/with-emulator.sh npm test --prefix ../gallery-app
#   bash scripts/with-emulator.sh --controller ~/alice.pem -- node smoke.mjs
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
}

[ $# -ge 1 ] || usage
case "$1" in -h | --help) usage ;; esac
emulator_args=()
if [ "${1#-}" != "$1" ]; then # options first: they run up to the `--` (a `--` inside CMD stays CMD's)
  while [ $# -gt 0 ] && [ "$1" != -- ]; do emulator_args+=("$1"); shift; done
  [ $# -gt 0 ] || { echo "with-emulator.sh: emulator options must end with -- before the command" >&2; exit 2; }
  shift
fi
[ $# -ge 1 ] || usage

repo=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-$repo/.venv/bin/python}
work=$(mktemp -d)
pid=""
cleanup() {
  status=$?
  if [ -n "$pid" ] && kill -0 "$pid" 2> /dev/null; then
    kill -TERM "$pid" 2> /dev/null || true
    wait "$pid" 2> /dev/null || true
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

(cd "$repo" && exec "$PY" -m storeforever emulator --port 0 --admin-port 0 --state-dir "$work/state" \
  --write-env "$work/emulator.env" --quiet "${emulator_args[@]}") > "$work/emulator.log" 2>&1 &
pid=$!

for _ in $(seq 1 600); do # a 60 s hang guard while the emulator starts
  [ -f "$work/emulator.env" ] && break
  if ! kill -0 "$pid" 2> /dev/null; then
    echo "with-emulator.sh: the emulator exited before it was ready:" >&2
    tail -n 40 "$work/emulator.log" >&2
    exit 1
  fi
  sleep 0.1
done
if [ ! -f "$work/emulator.env" ]; then
  echo "with-emulator.sh: the emulator was not ready after 60 s" >&2
  exit 1
fi

variables=()
while IFS= read -r line; do
  case $line in '#'* | '') continue ;; esac
  variables+=("$line")
done < "$work/emulator.env"
echo "with-emulator.sh: emulator at $(grep '^IC_HOST=' "$work/emulator.env" | cut -d= -f2-)" >&2

status=0
# `env` rather than `export`: PUBLIC_CANISTER_ID:backend is no shell identifier, but a valid variable.
env "${variables[@]}" "$@" || status=$?
exit "$status"
