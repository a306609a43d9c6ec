#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# With the S3 server down, a flush fails within the retry deadline however
# many pages are dirty: connections=1, retry-deadline=1, radosgw stopped,
# 10 pages written, and the flush must fail within 1 + 3 seconds.  Then
# radosgw starts again and the next flush succeeds.
#
# A flush returns at the first failure of one of its pages (the others
# stay dirty and queued), so it does not take one retry deadline per page
# in turn, which made it (dirty pages / connections) x retry-deadline.

STORE=s3
source "$(dirname "$0")/functions.sh"

s3_start_server rgw
DEADLINE=1
start_nbds3 size=16M page-size=64k cache-size=4M connections=1 \
  "retry-deadline=$DEADLINE" request-timeout=1 connect-timeout=1
nbdsh -u "$(uri fd)" -c 'h.pwrite(b"x", 0); h.flush()' ||
  fail "cannot write export fd"

export SERVER="$srcdir/s3-server.sh" S3DIR="$s3_dir" DEADLINE
nbdsh -u "$(uri fd)" -c "$FLUSH_PY" -c '
import os, subprocess
P = 65536
def server(cmd):
    subprocess.run([os.environ["SERVER"], cmd, os.environ["S3DIR"]],
                   check=True, stdout=subprocess.DEVNULL)
server("stop-rgw-only")
data = os.urandom(10 * P)
h.pwrite(data, 32 * P)
failing_flush(h, "10 dirty pages on 1 connection and radosgw stopped",
              int(os.environ["DEADLINE"]) + 3)
server("start-rgw-only")
h.flush()
assert h.pread(len(data), 32 * P) == data
' || fail "a flush with radosgw stopped did not fail within" \
          "retry-deadline + 3 s, or the next one did not succeed"

info "ok: a flush fails within the retry deadline"
