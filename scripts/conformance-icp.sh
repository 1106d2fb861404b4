#!/usr/bin/env bash
# Run the conformance suite against a real canister on a clean local icp-cli network.
#
#   bash scripts/conformance-icp.sh PATH_TO_ICP_PROJECT [--canister NAME] [--url URL] [--report-dir DIR]
#                                   [--dry-run] [-- PYTEST_ARGS...]
#
# In PATH_TO_ICP_PROJECT (the directory with icp.yaml) it runs, in this order:
#   icp network stop                               any running local network (its state is discarded)
#   icp network start --background                 a fresh local network
#   icp deploy NAME --yes                          build, create and install the canister
#   icp canister status NAME --id-only             the id the suite talks to
#   icp identity export "$(icp identity default)"  the current identity as a PEM (to a private temp dir)
# then, from this repository,
#   python -m pytest conformance --target replica --url URL --canister-id ID --identity PEM \
#     --upgrade-command "cd PROJECT && icp deploy NAME --mode upgrade --yes" \
#     --target-name icp-NAME --report-dir reports/conformance/icp-NAME [PYTEST_ARGS...]
# and on exit, whatever happened: icp network stop, and the PEM is deleted.
#
# NAME defaults to backend, URL to http://127.0.0.1:8000 (icp-cli's local gateway port), DIR to
# reports/conformance/icp-NAME. The icp binary is `icp` on PATH, or ICP=/path/to/icp. PYTEST_ARGS go to the suite, e.g. `-- --profile limits.toml -k upload`
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
url=http://127.0.0.1:8000
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
    *) echo "conformance-icp.sh: unknown option $1 (pytest arguments go after --)" >&2; exit 2 ;;
  esac
done

repo=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-$repo/.venv/bin/python}
ICP=${ICP:-icp}
if [ "$dry_run" = 1 ]; then
  case $project in /*) project_dir=$project ;; *) project_dir="$PWD/$project" ;; esac
else
  project_dir=$(cd "$project" && pwd)
  if [ ! -f "$project_dir/icp.yaml" ]; then
    echo "conformance-icp.sh: $project_dir has no icp.yaml" >&2
    exit 2
  fi
  command -v "$ICP" > /dev/null || { echo "conformance-icp.sh: $ICP is not on PATH (set ICP=/path/to/icp)" >&2; exit 2; }
fi
case $report_dir in
  '') report_dir="$repo/reports/conformance/icp-$canister" ;;
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
upgrade_command="cd $(quote "$project_dir") && $(quote "$ICP") deploy $(quote "$canister") --mode upgrade --yes"

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
  echo "# on exit, whatever happened: $ICP network stop; rm -rf \"\$IDENTITY_DIR\""
  run "$ICP" network stop
  run "$ICP" network start --background
  run "$ICP" deploy "$canister" --yes
  echo "+ CANISTER_ID=\$($(quote "$ICP") canister status $(quote "$canister") --id-only)"
  canister_id='$CANISTER_ID'
  echo "+ IDENTITY_DIR=\$(mktemp -d)"
  echo "+ $(quote "$ICP") identity export \"\$($(quote "$ICP") identity default)\" > \"\$IDENTITY_DIR/identity.pem\""
  pem='$IDENTITY_DIR/identity.pem'
else
  cd "$project_dir"
  secrets=$(mktemp -d)
  cleanup() {
    status=$?
    show "$ICP" network stop >&2
    "$ICP" network stop || true
    rm -rf "$secrets"
    exit "$status"
  }
  trap cleanup EXIT
  show "$ICP" network stop >&2
  "$ICP" network stop > /dev/null 2>&1 || true # none running is fine
  run "$ICP" network start --background
  run "$ICP" deploy "$canister" --yes
  canister_id=$(run "$ICP" canister status "$canister" --id-only)
  pem="$secrets/identity.pem"
  who=$("$ICP" identity default)
  show "$ICP" identity export "$who" >&2
  (umask 077 && "$ICP" identity export "$who" > "$pem")
fi

suite=(
  "$PY" -m pytest conformance
  --target replica
  --url "$url"
  --canister-id "$canister_id"
  --identity "$pem"
  --upgrade-command "$upgrade_command"
  --target-name "icp-$canister"
  --report-dir "$report_dir"
  "${pytest_args[@]}"
)
if [ "$dry_run" = 1 ]; then
  show cd "$repo"
  show "${suite[@]}"
  show "$ICP" network stop
  exit 0
fi
status=0
(cd "$repo" && run "${suite[@]}") || status=$?
echo "conformance reports: $report_dir/conformance-matrix.md (.html, conformance-results.json, junit.xml)" >&2
exit "$status"
