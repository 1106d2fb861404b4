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

SCRIPT=conformance-icp.sh
# shellcheck source=lib/replica-suite.sh
. "$(dirname "$0")/lib/replica-suite.sh"
parse_suite_args http://127.0.0.1:8000 "$@"
ICP=${ICP:-icp}
resolve_paths "icp-$canister" icp.yaml
if [ "$dry_run" != 1 ]; then
  command -v "$ICP" > /dev/null || { echo "conformance-icp.sh: $ICP is not on PATH (set ICP=/path/to/icp)" >&2; exit 2; }
fi
upgrade_command="cd $(quote "$project_dir") && $(quote "$ICP") deploy $(quote "$canister") --mode upgrade --yes"

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

run_suite "icp-$canister" "$ICP" network stop
