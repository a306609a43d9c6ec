#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# payload-signing= against radosgw over plain http.  radosgw verifies
# x-amz-content-sha256 against the body when it is a hash and accepts
# UNSIGNED-PAYLOAD (over http too), so each mode must write pages it
# then reads back:
#   - auto over http signs the payload (a proxy could change the body);
#   - unsigned sends UNSIGNED-PAYLOAD: 3 MiB written, flushed, read back
#     after a restart (a cold cache), the same bytes, each page's stored
#     CRC-32C checked on that read;
#   - signed sends the SHA-256, and reads what unsigned wrote.
# The debug line of the S3 client (-D nbds3.s3=1) says which mode runs.

STORE=s3
source "$(dirname "$0")/functions.sh"

keys=(size=8M page-size=64k cache-size=4M)
log="$(nbdkit_log)"
random_file "$tmpdir/data" 3M

# mode_is WORD: the S3 client of the last start said "WORD payloads".
mode_is ()
{
  tail -n 200 "$log" | grep -q "s3: bucket .* $1 payloads" ||
    fail "nbds3 did not say '$1 payloads'"
}

start_nbds3 -Dnbds3.s3=1 "${keys[@]}"
mode_is signed
nbdsh -u "$(uri ps)" -c 'h.pwrite(b"x" * 65536, 0); h.flush()'
stop_nbdkit

start_nbds3 -Dnbds3.s3=1 "${keys[@]}" payload-signing=unsigned
mode_is unsigned
nbdcopy --flush "$tmpdir/data" "$(uri ps)"
grep -q 's3: PUT exports/ps/page-00000010.bin: 200' "$log" ||
  fail "no page was PUT with payload-signing=unsigned"
restart_nbds3
mode_is unsigned
nbdcopy "$(uri ps)" "$tmpdir/back-unsigned"
truncate -s 3M "$tmpdir/back-unsigned"
cmp "$tmpdir/data" "$tmpdir/back-unsigned" ||
  fail "payload-signing=unsigned did not read back what it wrote"
stop_nbdkit

start_nbds3 -Dnbds3.s3=1 "${keys[@]}" payload-signing=signed
mode_is signed
nbdcopy "$(uri ps)" "$tmpdir/back-signed"
truncate -s 3M "$tmpdir/back-signed"
cmp "$tmpdir/data" "$tmpdir/back-signed" ||
  fail "payload-signing=signed read other bytes"
stop_nbdkit
