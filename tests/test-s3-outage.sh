#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# S3 outages lose nothing and never read as zeros.  With retry-deadline=4:
# (1) radosgw stopped (mon and OSD keep the data): a flush fails within
# the deadline; a read of a stored page that is not cached fails (EIO),
# never zeros; dirty data still reads back from the cache and new writes
# are taken.  radosgw started again on its port: the next flush succeeds,
# and after a restart of nbdkit every byte written is there.  (2) radosgw
# frozen (SIGSTOP: connections hang): a flush fails within deadline plus
# request timeout, then after SIGCONT the next flush succeeds.

STORE=s3
source "$(dirname "$0")/functions.sh"

s3_start_server rgw
# A frozen radosgw must not outlive the test (SIGTERM waits on SIGCONT).
on_cleanup 'kill -CONT "$(s3_rgw_pid)" 2>/dev/null'

DEADLINE=4
REQ_TIMEOUT=2
KEYS=(size=16M page-size=64k cache-size=4M "retry-deadline=$DEADLINE"
      "request-timeout=$REQ_TIMEOUT" connect-timeout=2)
start_nbds3 "${KEYS[@]}"

export SERVER="$srcdir/s3-server.sh" S3DIR="$s3_dir" DEADLINE REQ_TIMEOUT
random_file "$tmpdir/A" 1M          # pages 0-15, stored before the outage
random_file "$tmpdir/B" 256k        # pages 32-35, dirty during the outage
random_file "$tmpdir/C" 1000        # page 60 (new), written during it
random_file "$tmpdir/D" 128k        # pages 70-71, written before SIGSTOP

nbdsh -u "$(uri out)" -c '
import os
h.pwrite(open(os.environ["tmpdir"] + "/A", "rb").read(), 0)
h.flush()
'
# Nothing of export "out" is cached after a restart.
restart_nbds3

# ---- (1) radosgw stopped ----

nbdsh -u "$(uri out)" -c "$FLUSH_PY" -c '
import os, subprocess, time
P = 65536
d = os.environ["tmpdir"]
A, B, C = (open(d + "/" + n, "rb").read() for n in "ABC")
deadline = int(os.environ["DEADLINE"])
def server(cmd):
    subprocess.run([os.environ["SERVER"], cmd, os.environ["S3DIR"]],
                   check=True, stdout=subprocess.DEVNULL)

server("stop-rgw-only")
h.pwrite(B, 32 * P)                     # whole pages: cached, dirty

failing_flush(h, "radosgw stopped", deadline + 3)

# A stored page that is not cached: an error, never zeros.
for page in (0, 15):
    t = time.monotonic()
    try:
        got = h.pread(P, page * P)
        raise SystemExit("read of stored page %d with radosgw stopped "
                         "returned %s" % (page, "ZEROS" if got == bytes(P)
                                          else "data"))
    except nbd.Error as e:
        secs = time.monotonic() - t
        print("read of page %d: failed after %.1f s: %s" % (page, secs, e))
    assert secs <= deadline + 3, "read took %.1f s to fail" % secs

# Dirty pages read back from the cache; a write to a new page is taken.
assert h.pread(len(B), 32 * P) == B, "dirty data lost during the outage"
h.pwrite(C, 60 * P + 7)
assert h.pread(len(C), 60 * P + 7) == C

server("start-rgw-only")
t = time.monotonic()
h.flush()
print("flush after radosgw came back: ok in %.1f s" % (time.monotonic() - t))
assert h.pread(len(A), 0) == A, "stored data differs after the outage"
assert h.pread(len(B), 32 * P) == B
assert h.pread(len(C), 60 * P + 7) == C
'
restart_nbds3

# ---- (2) radosgw frozen ----

RGW_PID="$(s3_rgw_pid)"
export RGW_PID

nbdsh -u "$(uri out)" -c "$FLUSH_PY" -c '
import os, signal, time
P = 65536
d = os.environ["tmpdir"]
A, B, C, D = (open(d + "/" + n, "rb").read() for n in "ABCD")
# Everything from (1) is in the store.
assert h.pread(len(A), 0) == A, "A lost"
assert h.pread(len(B), 32 * P) == B, "B lost"
assert h.pread(len(C), 60 * P + 7) == C, "C lost"
assert h.pread(7, 60 * P) == bytes(7)

pid = int(os.environ["RGW_PID"])
os.kill(pid, signal.SIGSTOP)
try:
    h.pwrite(D, 70 * P)
    failing_flush(h, "radosgw frozen", int(os.environ["DEADLINE"]) +
                  int(os.environ["REQ_TIMEOUT"]) + 3)
finally:
    os.kill(pid, signal.SIGCONT)
t = time.monotonic()
h.flush()
print("flush after SIGCONT: ok in %.1f s" % (time.monotonic() - t))
assert h.pread(len(D), 70 * P) == D
'
restart_nbds3
nbdsh -u "$(uri out)" -c '
import os
P = 65536
d = os.environ["tmpdir"]
A, B, C, D = (open(d + "/" + n, "rb").read() for n in "ABCD")
img = bytearray(16 << 20)
img[0:len(A)] = A
img[32 * P:32 * P + len(B)] = B
img[60 * P + 7:60 * P + 7 + len(C)] = C
img[70 * P:70 * P + len(D)] = D
got = h.pread(16 << 20, 0)
if got != img:
    bad = [i for i in range(256) if got[i*P:(i+1)*P] != img[i*P:(i+1)*P]]
    raise SystemExit("after the outages pages %s differ" % bad)
print("all 16M read back as written")
'
want="$(printf '%s\n' 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 \
          32 33 34 35 60 70 71 | tr '\n' ' ')"
got="$(store_pages out | tr '\n' ' ')"
[ "$got" = "$want" ] || fail "pages in the bucket: '$got', expected '$want'"

info "ok: outages fail flushes and reads in time; nothing lost, no zeros"
