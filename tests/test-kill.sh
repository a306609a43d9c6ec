#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Durability.  (1) Write, flush, kill -9 nbdkit: every flushed byte (and
# every FUA write) is there after a restart, and each page written but not
# flushed is either all old or all new, never torn.  (2) SIGTERM while a
# client that wrote without flushing is still connected: once the client
# has gone and nbdkit has exited, every byte is there after a restart.

source "$(dirname "$0")/functions.sh"

start_nbds3 size=64M page-size=64k cache-size=16M

# ---- (1) kill -9 after flush ----

random_file "$tmpdir/flushed" 3M
random_file "$tmpdir/fua" 100000
random_file "$tmpdir/unflushed" 2M

hold_client k9 "$(uri k9)" '
import os
d = os.environ["tmpdir"]
flushed = open(d + "/flushed", "rb").read()
fua = open(d + "/fua", "rb").read()
unflushed = open(d + "/unflushed", "rb").read()
# Flushed: unaligned, many pages, in 256k requests.
for off in range(0, len(flushed), 262144):
    h.pwrite(flushed[off:off + 262144], 3 * 65536 + 17 + off)
h.flush()
# FUA: durable when acknowledged, no flush.
h.pwrite(fua, 200 * 65536 + 5, nbd.CMD_FLAG_FUA)
# Unflushed: whole pages 300..331, may or may not survive.
h.pwrite(unflushed, 300 * 65536)
'
kill9_nbdkit
release_client k9
[ "$(cat "$tmpdir/main.rc")" = 137 ] || fail "nbdkit was not killed by SIGKILL"

# (S3: the dead server's lease is broken on purpose.)
start_nbds3 size=64M page-size=64k cache-size=16M "${TAKEOVER_KEYS[@]}"
nbdsh -u "$(uri k9)" -c '
import os
d = os.environ["tmpdir"]
flushed = open(d + "/flushed", "rb").read()
fua = open(d + "/fua", "rb").read()
unflushed = open(d + "/unflushed", "rb").read()
P = 65536
got = h.pread(len(flushed), 3 * P + 17)
if got != flushed:
    bad = next(i for i in range(len(got)) if got[i] != flushed[i])
    raise SystemExit("flushed data lost or changed at byte %d" % bad)
assert h.pread(3 * P + 17, 0) == bytes(3 * P + 17), "zeros before data"
assert h.pread(fua.__len__(), 200 * P + 5) == fua, "FUA write lost"
new = old = 0
for i in range(len(unflushed) // P):
    page = h.pread(P, (300 + i) * P)
    if page == unflushed[i * P:(i + 1) * P]:
        new += 1
    elif page == bytes(P):
        old += 1
    else:
        raise SystemExit("page %d is torn (neither old nor new)" % (300 + i))
print("unflushed pages after kill -9: %d new, %d old" % (new, old))
'

# ---- (2) SIGTERM with an unflushed client still connected ----

random_file "$tmpdir/term" 6M
hold_client term "$(uri term)" '
import os
data = open(os.environ["tmpdir"] + "/term", "rb").read()
for off in range(0, len(data), 1 << 20):
    h.pwrite(data[off:off + (1 << 20)], 12345 + off)
# No flush.
'
signal_nbdkit TERM
sleep 1   # nbdkit handles SIGTERM while the client is connected
release_client term
wait_nbdkit_exit

start_nbds3 size=64M page-size=64k cache-size=16M
nbdsh -u "$(uri term)" -c '
import os
data = open(os.environ["tmpdir"] + "/term", "rb").read()
got = h.pread(len(data), 12345)
if got != data:
    bad = next(i for i in range(len(got)) if got[i] != data[i])
    raise SystemExit("unflushed data lost at SIGTERM, first bad byte %d" % bad)
'
# The first export is still intact too.
nbdsh -u "$(uri k9)" -c '
import os
flushed = open(os.environ["tmpdir"] + "/flushed", "rb").read()
assert h.pread(len(flushed), 3 * 65536 + 17) == flushed
'

info "ok: flushed data survives kill -9; SIGTERM writes everything back"
