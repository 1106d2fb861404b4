#!/usr/bin/env bash
# A malformed hash is refused at begin; a well-formed wrong hash fails at commit (InvalidHash), the
# asset never becomes present and the session is not left behind.
source "$(dirname "$0")/lib.sh" "$@"

FILE="$WORK/data.bin"
make_file "$FILE" 4096
MID="$(new_uuid)"

sf upload "$FILE" --memory-id "$MID" --expected-hash "not-a-sha256"
expect_rc 3 "upload with a malformed hash"
check "InvalidHash at begin" "d['error']['code'] == 'InvalidHash' and d['error']['method'] == 'begin_asset_upload'"

sf upload "$FILE" --memory-id "$MID" --expected-hash "$(printf 'ab%.0s' {1..32})"
expect_rc 3 "upload with a wrong hash"
check "InvalidHash at commit" "d['error']['code'] == 'InvalidHash' and d['error']['method'] == 'commit_asset'"
check "permanent" "d['error']['category'] == 'permanent'"

sf presence "$MID"
check "asset not present" "d['result'][0]['asset_present'] is False"
sf sessions
check "no session left" "d['result'] == []"

sf upload "$FILE" --memory-id "$MID"
expect_rc 0 "upload with the right hash afterwards"
pass
