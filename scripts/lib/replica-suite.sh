# Shared by conformance-icp.sh and conformance-dfx.sh (sourced, not run): their options, the way they
# print commands (and only print them in a dry run), and the suite run that follows a deploy. Each
# script keeps what differs: its tool's commands to start a network, deploy, find the id, export the
# identity and stop. SCRIPT names the calling script in messages; usage() prints its header comment.

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# parse_suite_args DEFAULT_URL "$@": sets project, canister, url, dry_run, report_dir, pytest_args.
parse_suite_args() {
  url=$1
  shift
  [ $# -ge 1 ] || usage
  case "$1" in -h | --help) usage ;; esac
  project=$1
  shift
  canister=backend
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
      *) echo "$SCRIPT: unknown option $1 (pytest arguments go after --)" >&2; exit 2 ;;
    esac
  done
}

# resolve_paths TARGET_NAME MARKER_FILE: sets repo, PY, project_dir (which must hold MARKER_FILE, except
# in a dry run) and report_dir (default reports/conformance/TARGET_NAME).
resolve_paths() {
  local target_name=$1 marker=$2
  repo=$(cd "$(dirname "$0")/.." && pwd)
  PY=${PYTHON:-$repo/.venv/bin/python}
  if [ "$dry_run" = 1 ]; then
    case $project in /*) project_dir=$project ;; *) project_dir="$PWD/$project" ;; esac
  else
    project_dir=$(cd "$project" && pwd)
    if [ ! -f "$project_dir/$marker" ]; then
      echo "$SCRIPT: $project_dir has no $marker" >&2
      exit 2
    fi
  fi
  case $report_dir in
    '') report_dir="$repo/reports/conformance/$target_name" ;;
    /*) ;;
    *) report_dir="$PWD/$report_dir" ;;
  esac
}

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
run() {
  if [ "$dry_run" = 1 ]; then
    show "$@"
  else
    show "$@" >&2
    "$@"
  fi
}

# run_suite TARGET_NAME STOP_COMMAND...: the suite against the deployed canister (canister_id, pem,
# upgrade_command set by the caller); a dry run prints it and the stop command and exits.
run_suite() {
  local target_name=$1
  shift
  local suite=(
    "$PY" -m pytest conformance
    --target replica
    --url "$url"
    --canister-id "$canister_id"
    --identity "$pem"
    --upgrade-command "$upgrade_command"
    --target-name "$target_name"
    --report-dir "$report_dir"
    "${pytest_args[@]}"
  )
  if [ "$dry_run" = 1 ]; then
    show cd "$repo"
    show "${suite[@]}"
    show "$@"
    exit 0
  fi
  local status=0
  (cd "$repo" && run "${suite[@]}") || status=$?
  echo "conformance reports: $report_dir/conformance-matrix.md (.html, conformance-results.json, junit.xml)" >&2
  exit "$status"
}
