#!/usr/bin/env bash
# A 3 MiB file (three max-size chunks) uploaded with concurrency; with ADMIN_URL the stored bytes are
# downloaded and compared.
source "$(dirname "$0")/lib.sh" "$@"

FILE="$WORK/three.bin"
make_file "$FILE" $((3 * MAX_CHUNK_SIZE))
MID="$(new_uuid)"
SHA="$(sha256_of "$FILE")"

sf upload "$FILE" --memory-id "$MID" --concurrency 3
expect_rc 0 "upload"
check "three chunks" "d['result']['chunk_count'] == 3 and d['result']['chunks_sent'] == 3"
check "hash verified" "d['result']['final_hash'] == '$SHA' and d['result']['presence_verified']"
check "size" "d['result']['total_bytes'] == $((3 * MAX_CHUNK_SIZE))"

if [[ -n "$ADMIN_URL" ]]; then
  "$PYTHON" -c 'import hashlib, sys, urllib.request
h = hashlib.sha256()
with urllib.request.urlopen(sys.argv[1], timeout=60) as r:
    for block in iter(lambda: r.read(1 << 20), b""): h.update(block)
sys.exit(0 if h.hexdigest() == sys.argv[2] else 1)' \
    "${ADMIN_URL%/}/canisters/$CANISTER_ID/assets/$MID/content" "$SHA" \
    || fail "the stored bytes differ from the file"
  pass "stored bytes match"
fi
pass
