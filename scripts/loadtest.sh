#!/usr/bin/env bash
# Run a Locust load profile against the artifact canister and exit with its SLO gates' verdict.
#
#   bash scripts/loadtest.sh [--profile smoke|full|PATH] [--url URL --canister-id ID] [--workers N]
#                            [--report-dir DIR] [-- EXTRA LOCUST ARGS]
#
# Without --url it starts an emulator on free ports with the profile's limits ([loadtest.emulator]),
# and stops it on exit. With --workers N it runs one master and N local worker processes (the same
# locustfile); otherwise one local process. Reports (CSV, HTML, gate JSON, logs) go to
# reports/loadtests/<profile>/ unless --report-dir says otherwise. Exit code: 0 when every gate
# passed, 1 when a gate failed, anything else when the run itself broke.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
LOCUST=.venv/bin/locust
profile=smoke
url=""
canister_id=""
workers=0
report_dir=""
extra=()

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile="$2"; shift 2 ;;
    --url) url="$2"; shift 2 ;;
    --canister-id) canister_id="$2"; shift 2 ;;
    --workers) workers="$2"; shift 2 ;;
    --report-dir) report_dir="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "loadtest.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
case "$workers" in ''|*[!0-9]*) echo "loadtest.sh: --workers needs a number" >&2; exit 2 ;; esac
if [ -n "$url" ] && [ -z "$canister_id" ]; then
  echo "loadtest.sh: --url needs --canister-id (the artifact canister on that target)" >&2; exit 2
fi
if [ ! -x "$LOCUST" ]; then bash scripts/setup.sh; fi

profile_path=$("$PY" -m loadtests.profile path "$profile")
"$PY" -m loadtests.profile check "$profile_path"
name=$(basename "$profile_path" .toml)
report_dir=${report_dir:-reports/loadtests/$name}
mkdir -p "$report_dir"
rm -f "$report_dir/$name"_*.csv "$report_dir/$name.html" "$report_dir/$name"_gates.json "$report_dir"/worker-*.log
canister_id=${canister_id:-uxrrr-q7777-77774-qaaaq-cai}

scratch=$(mktemp -d)
pids=()
cleanup() {
  # Newest first: workers still stopping their users must not see the emulator vanish under them.
  local i
  for (( i = ${#pids[@]} - 1; i >= 0; i-- )); do
    kill -TERM "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
  rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "$url" ]; then
  mapfile -t emulator_args < <("$PY" -m loadtests.profile emulator-args "$profile_path")
  echo "loadtest.sh: starting an emulator with: ${emulator_args[*]}"
  "$PY" -m storeforever emulator --port 0 --admin-port 0 --state-dir "$scratch/state" \
    --port-file "$scratch/ports.json" --canister "artifact=$canister_id" --quiet \
    "${emulator_args[@]}" >"$report_dir/emulator.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 300); do
    [ -s "$scratch/ports.json" ] && break
    if ! kill -0 "${pids[0]}" 2>/dev/null; then
      echo "loadtest.sh: the emulator exited early:" >&2; tail -n 40 "$report_dir/emulator.log" >&2; exit 3
    fi
    sleep 0.1
  done
  [ -s "$scratch/ports.json" ] || { echo "loadtest.sh: the emulator did not start in 30 s" >&2; exit 3; }
  url=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["url"])' "$scratch/ports.json")
  echo "loadtest.sh: emulator at $url, canister $canister_id"
else
  echo "loadtest.sh: target $url, canister $canister_id (it must be built with the profile's [loadtest.target] limits)"
fi

common=(--config "$profile_path" --load-profile "$profile_path" --host "$url" --canister-id "$canister_id"
        --csv "$report_dir/$name" --html "$report_dir/$name.html")
started=$(date +%s)
set +e
if [ "$workers" -gt 0 ]; then
  port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  for i in $(seq "$workers"); do
    "$LOCUST" -f loadtests/locustfile.py --worker --master-host 127.0.0.1 --master-port "$port" \
      >"$report_dir/worker-$i.log" 2>&1 &
    pids+=($!)
  done
  "$LOCUST" "${common[@]}" --master --master-bind-host 127.0.0.1 --master-bind-port "$port" \
    --expect-workers "$workers" --expect-workers-max-wait 60 "${extra[@]}"
  rc=$?
else
  "$LOCUST" "${common[@]}" "${extra[@]}"
  rc=$?
fi
set -e
echo "loadtest.sh: profile $name finished in $(( $(date +%s) - started )) s with exit code $rc; reports in $report_dir/"
exit "$rc"
