#!/usr/bin/env bash
# Cancelling a half-done upload: the session is finished as Cancelled, no longer active, its chunks
# freed (checked through ADMIN_URL when set); cancelling again is still a success; a new upload
# starts from scratch.
source "$(dirname "$0")/lib.sh" "$@"

CHUNK=65536
FILE="$WORK/three.bin"
make_file "$FILE" $((3 * CHUNK))
MID="$(new_uuid)"

sf upload "$FILE" --memory-id "$MID" --chunk-size "$CHUNK" --stop-after 2
expect_rc 0 "partial upload"
SESSION="$(jget "d['result']['session_id']")"
sf progress "$SESSION"
check "two chunks received" "d['result']['chunks_received'] == 2 and d['result']['status'] == 'Active'"

sf cancel "$SESSION"
expect_rc 0 "cancel"
sf progress "$SESSION"
check "cancelled" "d['result']['status'] == 'Cancelled'"
sf sessions
check "not active" "d['result'] == []"
sf cancel "$SESSION"
expect_rc 0 "cancelling again is idempotent"

if [[ -n "$ADMIN_URL" ]]; then
  OUT="$(admin GET "/canisters/$CANISTER_ID/inspect/sessions?owner=$(principal)")" || fail "admin inspect"
  check "chunks freed" "[s['stored_bytes'] for s in d['sessions'] if s['session_id'] == '$SESSION'] == [0]"
fi

sf upload "$FILE" --memory-id "$MID" --chunk-size "$CHUNK"
expect_rc 0 "upload again"
check "from scratch" "d['result']['chunks_resumed'] == 0 and d['result']['chunks_sent'] == 3"
check "not the cancelled session" "d['result']['session_id'] != '$SESSION'"
pass
