#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# One writer per S3 export: the lease exports/<export>/nbds3.lease.
#   1. Server A writes and flushes export "ls": it holds the lease.
#   2. Server B, on the same bucket, is refused the export for writing,
#      with one line naming the holder and when B may take it over; its
#      other exports work.
#   3. A read-only server (nbdkit -r) beside A reads what A flushed, and
#      takes no lease.
#   4. A is killed (-9).  B keeps being refused until it has seen the lease
#      unchanged for lease-timeout by its own clock; then it takes the
#      export over, and every byte A flushed is there.
#   5. B stops cleanly, releasing the lease: A starts again and writes the
#      export at once.
#   6. An export that B creates after A opened it (A saw it absent): A
#      lists its pages before its first write and builds on B's data.
# Before the lease, B wrote the export beside A (two writers).

STORE=s3
source "$(dirname "$0")/functions.sh"

LT=6
KEYS=(size=4M page-size=64k cache-size=4M lease-timeout=$LT
      request-timeout=1 connect-timeout=1 retry-deadline=2)
P=65536

# can_write URI: 0 if a write and flush of URI succeed.
can_write ()
{
  nbdsh -u "$1" -c 'h.pwrite(b"B" * 512, 3 * 65536); h.flush()' \
    2>/dev/null
}

start_nbds3 "${KEYS[@]}"
random_file "$tmpdir/flushed" $((4 * P))
nbdsh -u "$(uri ls)" -c "
import os
h.pwrite(open(os.environ['tmpdir'] + '/flushed', 'rb').read(), 0)
h.flush()
" || fail "server A cannot write export ls"
[ -n "$(store_list | grep 'exports/ls/nbds3.lease')" ] ||
  fail "no lease object exports/ls/nbds3.lease while A writes"

# 2. A second writer is refused.
start_nbds3_as second "${KEYS[@]}"
can_write "$(uri ls second)" &&
  fail "server B wrote export ls while A holds its lease"
grep -q "S3 export ls is held by .* pid $(nbdkit_pid)" "$(nbdkit_log second)" ||
  fail "B's log does not name A as the holder of export ls"
grep -q "takes the export over from [0-9][0-9]:[0-9][0-9]:[0-9][0-9]" \
  "$(nbdkit_log second)" || fail "B's refusal does not say when"
can_write "$(uri other second)" || fail "B cannot write another export"

# 3. A read-only server reads what A flushed, beside A.
start_nbds3_as ro -r "${KEYS[@]}"
nbdsh -u "$(uri ls ro)" -c "
import os
want = open(os.environ['tmpdir'] + '/flushed', 'rb').read()
assert h.pread(len(want), 0) == want, 'read-only server: flushed data differs'
" || fail "a read-only server beside A does not read A's flushed data"
stop_nbdkit ro

# 4. A dies: B takes over after lease-timeout of an unchanged lease.
kill9_nbdkit
killed=$(date +%s.%N)
took=""
for _ in $(seq 1 40); do
  if can_write "$(uri ls second)"; then
    took=$(date +%s.%N)
    break
  fi
  sleep 0.5
done
[ -n "$took" ] || fail "B did not take export ls over within 20 s of A's death"
waited=$(awk -v a="$killed" -v b="$took" 'BEGIN { printf "%.1f", b - a }')
info "B took export ls over $waited s after A was killed (lease-timeout $LT)"
awk -v w="$waited" -v lt="$LT" 'BEGIN { exit !(w >= lt - 1) }' ||
  fail "B took the export over after $waited s, before lease-timeout=$LT"
nbdsh -u "$(uri ls second)" -c "
import os
want = bytearray(open(os.environ['tmpdir'] + '/flushed', 'rb').read())
want[3 * 65536:3 * 65536 + 512] = b'B' * 512
assert h.pread(len(want), 0) == want, 'data flushed by A lost at takeover'
" || fail "bytes that A flushed are not there after B's takeover"

# 5. A clean stop releases the lease: A writes again at once.
stop_nbdkit second
grep -q "state=released" <(s3_python '
import sys
sys.stdout.write(s3_get("exports/ls/nbds3.lease").decode())') ||
  fail "B's clean stop did not release the lease"
start_nbds3 "${KEYS[@]}"
can_write "$(uri ls)" || fail "A cannot write export ls after B released it"

# 6. An export created by another server after this one opened it (A saw
#    it absent): before A's first write, A lists its pages, so it reads
#    and keeps B's data instead of writing from a stale view.  (A client
#    stays connected, so that A keeps the export open: a name that does
#    not exist is closed with its last connection.)
hold_client nwview "$(uri nw)" 'assert h.pread(512, 0) == bytes(512)'
start_nbds3_as second "${KEYS[@]}"
nbdsh -u "$(uri nw second)" -c 'h.pwrite(b"C" * 65536, 0); h.flush()' ||
  fail "B cannot create export nw"
stop_nbdkit second
nbdsh -u "$(uri nw)" -c '
h.pwrite(b"a" * 512, 100)
h.flush()
want = b"C" * 100 + b"a" * 512 + b"C" * (65536 - 612)
assert h.pread(65536, 0) == want, "A did not build on B'"'"'s page 0"
' || fail "A wrote export nw from its stale view"
release_client nwview
grep -q "export 'nw' exists after all" "$(nbdkit_log)" ||
  fail "A's log does not say that it listed export nw again"
s3_python 'assert s3_get("exports/nw/page-00000000.bin") == b"C" * 100 + b"a" * 512 + b"C" * (65536 - 612)' ||
  fail "export nw's page 0 in the bucket is not B's with A's bytes"

info "ok: one writer per export; read-only beside it; takeover after" \
     "lease-timeout; release at a clean stop; no writes from a stale view"
