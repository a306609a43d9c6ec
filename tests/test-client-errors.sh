#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# What a client is told, and what the log says.  NBD carries few errors:
# a failed open is "unknown export" whatever the cause, and nbdkit sends
# EINVAL for errnos NBD has no code for.  So the client gets the most
# telling code there is, and the server's log names the real cause.
# (1) An export created with another page size: the open fails, the log
# names both page sizes.  (2) Another server created and holds an export
# after this one opened it as new: the first write is EPERM.  (3) Another
# server created it with another size and let it go: the first write is
# EINVAL, and the log says to restart.  (4) An export unused for linger
# seconds is closed: its guard is free for another server (S3: its lease
# is released), and a reconnect finds its data.

source "$(dirname "$0")/functions.sh"

store_setup
keys=(size=1M page-size=64k cache-size=8M)

# write_fails URI ERRNO-NAME: a write and flush through URI must fail
# with that errno.
write_fails ()
{
  WANT="$2" nbdsh -u "$1" -c '
import errno, os, sys
want = getattr(errno, os.environ["WANT"])
try:
    h.pwrite(b"x" * 512, 0)
    h.flush()
except nbd.Error as e:
    if e.errnum != want:
        sys.exit("failed with %s, not %s" % (e, os.environ["WANT"]))
else:
    sys.exit("the write succeeded")
' || fail "$1: not refused with $2"
}

# ---- (1) another page size ----

start_nbds3_as a "${keys[@]}"
nbdsh_py "$(uri ps a)" 'h.pwrite(b"p" * 512, 0); h.flush()'
start_nbds3_as b size=1M page-size=128k cache-size=8M
out="$(nbdsh -u "$(uri ps b)" -c 'pass' 2>&1)" &&
  fail "an export opened with another page size"
grep -q "no export named\|unknown export" <<<"$out" ||
  fail "(1) the client was told: $out"
grep -q "export 'ps' was created with page-size=65536" "$(nbdkit_log b)" ||
  fail "(1) the log does not name the page sizes"
stop_nbdkit b

# ---- (2) created and held by another server after the open ----

start_nbds3_as b "${keys[@]}"
hold_client lateb "$(uri late b)" 'assert h.pread(1, 0) == b"\0"'
hold_client latea "$(uri late a)" 'h.pwrite(b"a" * 512, 0); h.flush()'
nbdsh -u "$(uri late b)" -c '
import errno
try:
    h.pwrite(b"b" * 512, 0)
    h.flush()
    raise SystemExit("a write over an export another server holds succeeded")
except nbd.Error as e:
    if e.errnum != errno.EPERM:
        raise SystemExit("failed with %s, not EPERM" % e)
' || fail "(2) not refused with EPERM"
release_client latea
release_client lateb
grep -q "late" "$(nbdkit_log b)" || fail "(2) the log does not name it"

# ---- (3) created with another size by another server ----

hold_client misb "$(uri mis b)" 'assert h.get_size() == 1 << 20'
start_nbds3_as c size=2M page-size=64k cache-size=8M linger=0
nbdsh_py "$(uri mis c)" 'h.pwrite(b"c" * 512, 0); h.flush()'
write_fails "$(uri mis b)" EINVAL
release_client misb
grep -Eq "export 'mis' was created by another (server|process) after" \
  "$(nbdkit_log b)" || fail "(3) the log does not say why"
stop_nbdkit c

# ---- (4) linger ----

# closed_after_linger NAME: wait for instance NAME to close 'lin'.
closed_after_linger ()
{
  wait_for 10 grep -q "closing export 'lin': unused" "$(nbdkit_log "$1")" ||
    fail "(4) $1 did not close export 'lin' after linger=1"
}
stop_nbdkit b
stop_nbdkit a
start_nbds3_as a "${keys[@]}" linger=1
start_nbds3_as b "${keys[@]}" linger=1
nbdsh_py "$(uri lin b)" 'h.pwrite(b"l" * 512, 0); h.flush()'
closed_after_linger b
# Its guard is free: another server writes it (S3: without break-lease).
nbdsh_py "$(uri lin a)" 'h.pwrite(b"L" * 512, 512); h.flush()' ||
  fail "(4) the guard was not released with the export"
closed_after_linger a
nbdsh_py "$(uri lin b)" 'assert h.pread(1024, 0) == b"l" * 512 + b"L" * 512' ||
  fail "(4) the reopened export does not read what both servers wrote"

stop_nbdkit b
stop_nbdkit a
