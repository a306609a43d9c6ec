#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Two connections to one export at once: the server advertises multi-conn,
# and a write on one connection followed by a flush on it is seen by a
# read on the other (both ways, also across a page boundary), and by a
# third connection made afterwards.  Then two nbdcopy runs with 4
# connections each write halves of the export in parallel.

source "$(dirname "$0")/functions.sh"
require_tools nbdcopy

start_nbds3 size=32M page-size=64k cache-size=8M

SOCK="$(nbdkit_sock)"
export SOCK
nbdsh -c '
import os
sock = os.environ["SOCK"]
def conn():
    x = nbd.NBD()
    x.set_export_name("mc")
    x.connect_unix(sock)
    return x
h1 = conn()
h2 = conn()
for x in (h1, h2):
    assert x.can_multi_conn(), "can_multi_conn is false"
    assert x.can_flush(), "can_flush is false"
    assert x.can_fua(), "can_fua is false"
    assert x.can_trim(), "can_trim is false"

# Both connections are open; they read zeros at first.
assert h2.pread(4096, 0) == bytes(4096)

a = os.urandom(100000)          # crosses page boundaries
h1.pwrite(a, 65536 - 3000)
h1.flush()
got = h2.pread(len(a), 65536 - 3000)
assert got == a, "h2 does not see the data h1 wrote and flushed"

b = os.urandom(70000)
h2.pwrite(b, 5 * 65536 + 123)
h2.flush()
assert h1.pread(len(b), 5 * 65536 + 123) == b, "h1 does not see h2 data"

# Interleaved writes to the same page from both connections.
h1.pwrite(b"\x01" * 1000, 20 * 65536)
h2.pwrite(b"\x02" * 1000, 20 * 65536 + 1000)
h1.flush()
exp = b"\x01" * 1000 + b"\x02" * 1000
assert h1.pread(2000, 20 * 65536) == exp
assert h2.pread(2000, 20 * 65536) == exp

# FUA write on one, read on the other.
h2.pwrite(b"\xfe" * 4096, 30 * 65536, nbd.CMD_FLAG_FUA)
assert h1.pread(4096, 30 * 65536) == b"\xfe" * 4096

h3 = conn()
assert h3.pread(len(a), 65536 - 3000) == a
assert h3.pread(len(b), 5 * 65536 + 123) == b
for x in (h1, h2, h3):
    x.shutdown()
print("two-connection checks passed")
'

# Parallel multi-connection writers on disjoint halves of another export.
random_file "$tmpdir/a" 16M
random_file "$tmpdir/b" 16M
nbdcopy -C 4 "$tmpdir/a" "$(uri par)" &
p1=$!
bg_pid $p1
nbdsh -u "$(uri par)" -c '
import os
data = open(os.environ["tmpdir"] + "/b", "rb").read()
for off in range(0, len(data), 1 << 20):
    h.pwrite(data[off:off + (1 << 20)], (16 << 20) + off)
h.flush()
' 
wait $p1 || fail "nbdcopy failed"
cat "$tmpdir/a" "$tmpdir/b" >"$tmpdir/expect"
nbdcopy "$(uri par)" "$tmpdir/out"
cmp "$tmpdir/expect" "$tmpdir/out" || fail "parallel writers: data differs"

restart_nbds3
nbdcopy "$(uri par)" "$tmpdir/out2"
cmp "$tmpdir/expect" "$tmpdir/out2" ||
  fail "parallel writers: data differs after restart"

info "ok: multi-conn"
