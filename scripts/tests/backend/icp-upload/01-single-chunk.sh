#!/usr/bin/env bash
# A file smaller than one chunk: one put_chunk, commit, hash and presence verified.
source "$(dirname "$0")/lib.sh" "$@"

FILE="$WORK/small.bin"
make_file "$FILE" $((MAX_CHUNK_SIZE / 2))
MID="$(new_uuid)"
SHA="$(sha256_of "$FILE")"

sf upload "$FILE" --memory-id "$MID"
expect_rc 0 "upload"
check "one chunk" "d['result']['chunk_count'] == 1 and d['result']['chunks_sent'] == 1"
check "committed hash is the local SHA-256" "d['result']['final_hash'] == '$SHA'"
check "all bytes stored" "d['result']['total_bytes'] == $((MAX_CHUNK_SIZE / 2))"
SESSION="$(jget "d['result']['session_id']")"

sf presence "$MID"
expect_rc 0 "presence"
check "asset present" "d['result'][0]['asset_present'] is True"

sf progress "$SESSION"
expect_rc 0 "progress"
check "session completed" "d['result']['status'] == 'Completed' and d['result']['progress_percentage'] == 100.0"
pass
