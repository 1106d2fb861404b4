#!/usr/bin/env bash
# Run the conformance suite against a real canister on a clean local dfx replica.
#
#   bash scripts/conformance-dfx.sh PATH_TO_DFX_PROJECT [--canister NAME] [--url URL] [--report-dir DIR]
#                                   [--dry-run] [-- PYTEST_ARGS...]
#
# In PATH_TO_DFX_PROJECT it runs, in this order:
#   dfx start --clean --background                 a fresh local replica (state wiped)
#   dfx deploy NAME --yes                          build and install the canister
#   dfx canister id NAME                           the id the suite talks to
#   dfx identity export "$(dfx identity whoami)"   the current identity as a PEM (to a private temp dir)
# then, from this repository,
#   python -m pytest conformance --target replica --url URL --canister-id ID --identity PEM \
#     --upgrade-command "cd PROJECT && dfx deploy NAME --mode upgrade --yes" \
#     --target-name dfx-NAME --report-dir reports/conformance/dfx-NAME [PYTEST_ARGS...]
# and on exit, whatever happened: dfx stop, and the PEM is deleted.
#
# NAME defaults to backend, URL to http://127.0.0.1:4943 (dfx's default webserver port), DIR to
# reports/conformance/dfx-NAME. PYTEST_ARGS go to the suite, e.g. `-- --profile limits.toml -k upload`
# (a profile states the limits the canister was built with; without it quota tests are skipped).
# --dry-run prints every command instead of running it (nothing is started, nothing is written).
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
}

[ $# -ge 1 ] || usage
case "$1" in -h | --help) usage ;; esac
project=$1
shift
canister=backend
url=http://127.0.0.1:4943
dry_run=0
report_dir=""
pytest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --canister) canister=${2:?--canister needs a name}; shift 2 ;;
    --canister=*) canister=${1#*=}; shift ;;
    --url) url=${2:?--url needs a URL}; shift 2 ;;
    --url=*) url=${1#*=}; shift ;;
    --report-dir) report_dir=${2:?--report-dir needs a directory}; shift 2 ;;
    --report-dir=*) report_dir=${1#*=}; shift ;;
    --dry-run) dry_run=1; shift ;;
    --) shift; pytest_args=("$@"); break ;;
    -h | --help) usage ;;
    *) echo "conformance-dfx.sh: unknown option $1 (pytest arguments go after --)" >&2; exit 2 ;;
  esac
done

repo=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-$repo/.venv/bin/python}
if [ "$dry_run" = 1 ]; then
  case $project in /*) project_dir=$project ;; *) project_dir="$PWD/$project" ;; esac
else
  project_dir=$(cd "$project" && pwd)
  if [ ! -f "$project_dir/dfx.json" ]; then
    echo "conformance-dfx.sh: $project_dir has no dfx.json" >&2
    exit 2
  fi
  command -v dfx > /dev/null || { echo "conformance-dfx.sh: dfx is not on PATH" >&2; exit 2; }
fi
case $report_dir in
  '') report_dir="$repo/reports/conformance/dfx-$canister" ;;
  /*) ;;
  *) report_dir="$PWD/$report_dir" ;;
esac

# A command as one could paste it: words quoted only when needed, "$VARS" left for the shell.
quote() {
  case $1 in
    '$'*) printf '"%s"' "$1" ;;
    '' | *[!A-Za-z0-9_./:=@%+,-]*) printf "'%s'" "${1//\'/\'\\\'\'}" ;;
    *) printf '%s' "$1" ;;
  esac
}

show() {
  printf '+'
  for word in "$@"; do
    printf ' '
    quote "$word"
  done
  printf '\n'
}

# run CMD...: execute, or in a dry run only print it.
upgrade_command="cd $(quote "$project_dir") && dfx deploy $(quote "$canister") --mode upgrade --yes"

run() {
  if [ "$dry_run" = 1 ]; then
    show "$@"
  else
    show "$@" >&2
    "$@"
  fi
}

if [ "$dry_run" = 1 ]; then
  echo "# dry run: nothing below is executed"
  show cd "$project_dir"
  echo "# on exit, whatever happened: dfx stop; rm -rf \"\$IDENTITY_DIR\""
  run dfx start --clean --background
  run dfx deploy "$canister" --yes
  echo "+ CANISTER_ID=\$(dfx canister id $(quote "$canister"))"
  canister_id='$CANISTER_ID'
  echo "+ IDENTITY_DIR=\$(mktemp -d)"
  echo "+ dfx identity export \"\$(dfx identity whoami)\" > \"\$IDENTITY_DIR/identity.pem\""
  pem='$IDENTITY_DIR/identity.pem'
else
  cd "$project_dir"
  secrets=$(mktemp -d)
  cleanup() {
    status=$?
    show dfx stop >&2
    dfx stop || true
    rm -rf "$secrets"
    exit "$status"
  }
  trap cleanup EXIT
  run dfx start --clean --background
  run dfx deploy "$canister" --yes
  canister_id=$(run dfx canister id "$canister")
  pem="$secrets/identity.pem"
  who=$(dfx identity whoami)
  show dfx identity export "$who" >&2
  (umask 077 && dfx identity export "$who" > "$pem")
fi

suite=(
  "$PY" -m pytest conformance
  --target replica
  --url "$url"
  --canister-id "$canister_id"
  --identity "$pem"
  --upgrade-command "$upgrade_command"
  --target-name "dfx-$canister"
  --report-dir "$report_dir"
  "${pytest_args[@]}"
)
if [ "$dry_run" = 1 ]; then
  show cd "$repo"
  show "${suite[@]}"
  show dfx stop
  exit 0
fi
status=0
(cd "$repo" && run "${suite[@]}") || status=$?
echo "conformance reports: $report_dir/conformance-matrix.md (.html, conformance-results.json, junit.xml)" >&2
exit "$status"
