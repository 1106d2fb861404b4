#!/usr/bin/env bash
# A session left idle past its lifetime expires: progress says Expired, it no longer counts as
# active, and uploading again starts a fresh session. Needs the emulator's clock control (ADMIN_URL);
# on a target without it the script is skipped (waiting 30 minutes is not a test).
source "$(dirname "$0")/lib.sh" "$@"

[[ -n "$ADMIN_URL" ]] || skip "session timeout needs the emulator admin API (set ADMIN_URL) to move the canister clock"

CHUNK=65536
FILE="$WORK/two.bin"
make_file "$FILE" $((2 * CHUNK))
MID="$(new_uuid)"

sf upload "$FILE" --memory-id "$MID" --chunk-size "$CHUNK" --stop-after 1
expect_rc 0 "partial upload"
SESSION="$(jget "d['result']['session_id']")"
sf progress "$SESSION"
check "active before the timeout" "d['result']['status'] == 'Active' and d['result']['chunks_received'] == 1"

admin POST "/canisters/$CANISTER_ID/clock/advance" "{\"seconds\": $((SESSION_LIFETIME_SECONDS + 60))}" >/dev/null \
  || fail "cannot move the canister clock through $ADMIN_URL"

sf progress "$SESSION"
expect_rc 0 "progress after the timeout"
check "expired" "d['result']['status'] == 'Expired'"
sf sessions
check "not listed as active" "all(s['session_id'] != '$SESSION' for s in d['result'])"

sf upload "$FILE" --memory-id "$MID" --chunk-size "$CHUNK"
expect_rc 0 "upload after expiry"
check "a new session, all chunks sent" "d['result']['session_id'] != '$SESSION' and d['result']['chunks_sent'] == 2"
pass
