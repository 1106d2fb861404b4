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

SCRIPT=conformance-dfx.sh
# shellcheck source=lib/replica-suite.sh
. "$(dirname "$0")/lib/replica-suite.sh"
parse_suite_args http://127.0.0.1:4943 "$@"
resolve_paths "dfx-$canister" dfx.json
if [ "$dry_run" != 1 ]; then
  command -v dfx > /dev/null || { echo "conformance-dfx.sh: dfx is not on PATH" >&2; exit 2; }
fi
upgrade_command="cd $(quote "$project_dir") && dfx deploy $(quote "$canister") --mode upgrade --yes"

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

run_suite "dfx-$canister" dfx stop
