#!/usr/bin/env bash
# Runs every icp-upload script against one target and prints one PASS/FAIL/SKIP line each.
# Usage: run-all.sh [--url URL] [--canister-id ID] [--admin-url URL]   (or URL/CANISTER_ID/ADMIN_URL)
# Exit status: 0 when nothing failed (skips are fine), 1 otherwise. Failing scripts' output is shown.
set -uo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
LOGS="$(mktemp -d "${TMPDIR:-/tmp}/icp-upload-logs.XXXXXX")"
failed=0
passed=0
skipped=0

for script in "$HERE"/[0-9][0-9]-*.sh; do
  name="$(basename "$script" .sh)"
  log="$LOGS/$name.log"
  start=$SECONDS
  bash "$script" "$@" >"$log" 2>&1
  rc=$?
  took=$((SECONDS - start))
  if [[ $rc -eq 0 ]]; then
    printf 'PASS %-28s %3ss\n' "$name" "$took"
    passed=$((passed + 1))
  elif [[ $rc -eq 77 ]]; then
    printf 'SKIP %-28s %s\n' "$name" "$(grep -m1 '^SKIP' "$log" | sed 's/^SKIP: //')"
    skipped=$((skipped + 1))
  else
    printf 'FAIL %-28s (exit %s, log %s)\n' "$name" "$rc" "$log"
    sed 's/^/    /' "$log" | tail -n 40
    failed=$((failed + 1))
  fi
done

echo "icp-upload: $passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 ]] && rm -rf "$LOGS"
exit $((failed > 0))
