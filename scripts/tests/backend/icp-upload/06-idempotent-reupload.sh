#!/usr/bin/env bash
# Uploading the same bytes for the same memory again is a no-op success (AlreadyExists at begin ->
# "already present"); nothing is re-sent and presence stays true.
source "$(dirname "$0")/lib.sh" "$@"

FILE="$WORK/data.bin"
make_file "$FILE" $((MAX_CHUNK_SIZE + 1000))
MID="$(new_uuid)"
SHA="$(sha256_of "$FILE")"

sf upload "$FILE" --memory-id "$MID"
expect_rc 0 "first upload"
check "uploaded" "d['result']['already_present'] is False and d['result']['chunks_sent'] == 2"

sf upload "$FILE" --memory-id "$MID"
expect_rc 0 "second upload"
check "already present, nothing sent" "d['result']['already_present'] is True and d['result']['chunks_sent'] == 0"
check "same hash" "d['result']['final_hash'] == '$SHA'"

sf presence "$MID"
check "still present" "d['result'][0]['asset_present'] is True"
sf sessions
check "no session opened" "d['result'] == []"
pass
