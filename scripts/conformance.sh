#!/usr/bin/env bash
# Run the conformance suite and write its reports under reports/conformance/<target>/:
# junit.xml, conformance-matrix.md, conformance-matrix.html, conformance-results.json.
# Arguments go to pytest and the suite's plugin (docs/conformance.md), e.g.
#   bash scripts/conformance.sh                                   # own emulator (the CI run)
#   bash scripts/conformance.sh --target replica --url http://127.0.0.1:4943 --canister-id ID --identity me.pem
# <target> is --target-name if given, else --target (default emulator). An explicit --report-dir wins.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}

name="" kind="emulator" report_dir=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --target-name) name="${args[i + 1]:-}" ;;
    --target-name=*) name="${args[i]#*=}" ;;
    --target) kind="${args[i + 1]:-}" ;;
    --target=*) kind="${args[i]#*=}" ;;
    --report-dir | --report-dir=*) report_dir="given" ;;
  esac
done
extra=()
if [ -z "$report_dir" ]; then
  report_dir="reports/conformance/${name:-$kind}"
  extra=(--report-dir "$report_dir")
fi

status=0
"$PY" -m pytest conformance "${extra[@]}" "$@" || status=$?
if [ "$report_dir" != "given" ]; then
  echo "conformance reports: $report_dir/conformance-matrix.md (.html, conformance-results.json, junit.xml)"
fi
exit "$status"
