#!/usr/bin/env bash
# A file over the maximum asset size is refused at begin; a chunk over the maximum chunk size is
# refused by put_chunk (and the session is cancelled, not leaked).
source "$(dirname "$0")/lib.sh" "$@"

BIG="$WORK/big.bin"
make_sparse "$BIG" $((MAX_ASSET_SIZE + 1))
sf upload "$BIG" --memory-id "$(new_uuid)"
expect_rc 3 "oversized file"
check "File size exceeds" "d['error']['message'].startswith('File size exceeds') and d['error']['type'] == 'ValidationError'"

# Two chunks of 1.5 × the maximum: the count can carry the size, so begin accepts; chunk 0 is too big.
FILE="$WORK/two-max.bin"
make_file "$FILE" $((2 * MAX_CHUNK_SIZE))
sf upload "$FILE" --memory-id "$(new_uuid)" --chunk-size $((MAX_CHUNK_SIZE * 3 / 2))
expect_rc 3 "oversized chunk"
check "Chunk size exceeds" "d['error']['message'].startswith('Chunk size exceeds') and d['error']['method'] == 'put_chunk'"

sf sessions
check "the failed upload's session was cancelled" "d['result'] == []"
pass
