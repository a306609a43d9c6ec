#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# An old PUT must never land after a newer one, also when an attempt timed
# out.  radosgw is frozen (SIGSTOP): version 1 of pages 64-79 is written
# and the flush fails after its attempts time out, but those requests sit
# in radosgw's sockets.  Version 2 of the same pages is written, radosgw
# is thawed (SIGCONT) and the next flush succeeds.  After a restart every
# page must read version 2: a flush that succeeded is durable.
#
# The protection: every page PUT is conditional (If-Match with the ETag
# nbds3 knows, If-None-Match: * for a page it believes absent), so the late
# version-1 requests are refused with 412; the version-2 PUT that meets a
# landed version-1 attempt learns its ETag (HEAD) and is sent once more.
# Before it, about half of the 16 pages read version 1 after the restart.

STORE=s3
source "$(dirname "$0")/functions.sh"

s3_start_server rgw
on_cleanup 'kill -CONT "$(s3_rgw_pid)" 2>/dev/null'
RGW_PID="$(s3_rgw_pid)"
export RGW_PID

start_nbds3 size=16M page-size=64k cache-size=4M retry-deadline=2 \
  request-timeout=1 connect-timeout=1 connections=16
nbdsh -u "$(uri st)" -c 'h.pwrite(b"x", 0); h.flush()' ||
  fail "cannot write export st"

nbdsh -u "$(uri st)" -c '
import os, signal
P = 65536
pid = int(os.environ["RGW_PID"])
os.kill(pid, signal.SIGSTOP)
try:
    h.pwrite(b"\x01" * 16 * P, 64 * P)
    try:
        h.flush()
        raise SystemExit("flush succeeded with radosgw frozen")
    except nbd.Error as e:
        print("version 1: flush with radosgw frozen failed: %s" % e)
    h.pwrite(b"\x02" * 16 * P, 64 * P)
finally:
    os.kill(pid, signal.SIGCONT)
h.flush()
print("version 2: flush succeeded")
' || fail "writing versions 1 and 2 did not go as planned"
# Let radosgw finish whatever it still had.
sleep 1
restart_nbds3
nbdsh -u "$(uri st)" -c '
P = 65536
got = [h.pread(P, (64 + i) * P) for i in range(16)]
old = [64 + i for i in range(16) if got[i] == b"\x01" * P]
other = [64 + i for i in range(16)
         if got[i] not in (b"\x01" * P, b"\x02" * P)]
assert not other, "pages %s hold neither version" % other
if old:
    raise SystemExit("pages %s read version 1 after version 2 was flushed: "
                     "a timed-out PUT landed after the newer one" % old)
print("all 16 pages read version 2")
' || fail "a timed-out PUT landed after a newer one"

info "ok: no timed-out PUT lands after a newer one"
