#!/usr/bin/env bash
# A caller may hold MAX_ACTIVE_SESSIONS (3) active sessions; one more begin is refused with a rate
# limit (exit 4: retryable, after backing off); cancelling one frees a slot.
source "$(dirname "$0")/lib.sh" "$@"

CHUNK=65536
FILE="$WORK/two.bin"
make_file "$FILE" $((2 * CHUNK))
SESSIONS=()
for _ in $(seq "$MAX_ACTIVE_SESSIONS"); do
  sf upload "$FILE" --memory-id "$(new_uuid)" --chunk-size "$CHUNK" --stop-after 0
  expect_rc 0 "begin"
  SESSIONS+=("$(jget "d['result']['session_id']")")
done
sf sessions
check "$MAX_ACTIVE_SESSIONS active sessions" "len(d['result']) == $MAX_ACTIVE_SESSIONS"

EXTRA="$(new_uuid)"
sf upload "$FILE" --memory-id "$EXTRA" --chunk-size "$CHUNK" --retries 1
expect_rc 4 "one upload over the limit"
check "rate limited" "'Rate limit exceeded' in d['error']['message'] and d['error']['category'] == 'retryable'"

sf cancel "${SESSIONS[0]}"
expect_rc 0 "cancel"
sf upload "$FILE" --memory-id "$EXTRA" --chunk-size "$CHUNK"
expect_rc 0 "upload after a slot was freed"

sf cancel "${SESSIONS[@]:1}"
expect_rc 0 "clean-up"
sf sessions
check "no active sessions left" "d['result'] == []"
pass
