#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Hostile clients.  NBD has no authentication, so whoever reaches the
# socket is a client; none may exhaust the server or forge its log.
# (1) 400 new exports, one byte each, under a file limit of 256: every
# write and flush succeeds, the server's descriptors stay bounded, and an
# export held open meanwhile keeps working.  (2) Past max-exports, only
# the client that asks for one more export in use is refused, with the
# cause in the log; an idle export makes room.  (3) 5,000 probes of names
# that do not exist cost no memory after the probe.  (4) A newline in an
# export name cannot forge a log line, and a 4,096-byte name is cut.

source "$(dirname "$0")/functions.sh"

store_setup
# (The hard limit too: nbds3 may raise its soft limit up to the hard one.)
ulimit -n 256
start_nbds3 size=1M page-size=64k cache-size=8M
pid="$(nbdkit_pid)"

# fds: nbdkit's open descriptors now.
fds ()
{
  find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 | wc -l
}

# ---- (1) 400 new exports under a low file limit ----

hold_client keeper "$(uri keeper)" 'h.pwrite(b"k" * 4096, 0); h.flush()'
"$NBD_PYTHON" - "$(nbdkit_sock)" >"$tmpdir/many.out" 2>&1 <<'EOF' ||
import nbd, sys
sock = sys.argv[1]
for i in range(400):
    h = nbd.NBD()
    h.set_export_name("many-%d" % i)
    h.connect_unix(sock)
    h.pwrite(bytes([i % 251 + 1]), 777)
    h.flush()
    h.shutdown()
    del h
EOF
  { cat "$tmpdir/many.out" >&2; fail "writing 400 new exports failed"; }
# max-exports (default 128) fits under the limit, with room to spare.
info "$(fds) descriptors open after 400 exports"
[ "$(fds)" -le 200 ] || fail "$(fds) descriptors open after 400 exports"
# The export held open all along still writes and flushes.
nbdsh_py "$(uri keeper)" 'h.pwrite(b"K", 1); h.flush()' ||
  fail "a held export stopped working"
release_client keeper
# Every byte is there, read back through the server.
"$NBD_PYTHON" - "$(nbdkit_sock)" <<'EOF' || fail "an export lost its byte"
import nbd, sys
for i in range(400):
    h = nbd.NBD()
    h.set_export_name("many-%d" % i)
    h.connect_unix(sys.argv[1])
    assert h.pread(1, 777) == bytes([i % 251 + 1]), "many-%d" % i
    del h
EOF
! grep -q 'Too many open files' "$(nbdkit_log)" ||
  fail "the server ran out of descriptors"

# ---- (2) past max-exports ----

start_nbds3_as bounded size=1M page-size=64k cache-size=8M max-exports=3
for n in 1 2 3; do
  hold_client "b$n" "$(uri "b$n" bounded)" 'h.pwrite(b"b", 0)'
done
# A fourth export in use: refused, for that client only.
out="$(nbdsh -u "$(uri b4 bounded)" -c 'h.pwrite(b"x", 0)' 2>&1)" &&
  fail "a fourth export opened past max-exports=3"
info "the client was told: $out"
grep -q "unknown export\|No such file\|ENOENT" <<<"$out" ||
  fail "refused with an unexpected error: $out"
grep -q "max-exports=3" "$(nbdkit_log bounded)" ||
  fail "the log does not say why b4 was refused"
nbdsh_py "$(uri b1 bounded)" 'assert h.pread(1, 0) == b"b"' ||
  fail "an open export broke when another was refused"
# Once b1 is idle, it makes room for b4.
release_client b1
nbdsh_py "$(uri b4 bounded)" 'h.pwrite(b"4", 0); h.flush()' ||
  fail "no room for a new export after one went idle"
release_client b2
release_client b3
nbdsh_py "$(uri b1 bounded)" 'assert h.pread(1, 0) == b"b"' ||
  fail "an export closed to make room lost its data"

# ---- (3) 5,000 probes of names that do not exist ----

# probe FROM TO: read-only NBD_OPT_GO of names FROM..TO-1 (none exists);
# nbdkit allows 32 options per connection, so 25 names per connection.
probe ()
{
  "$NBD_PYTHON" - "$(nbdkit_sock)" "$1" "$2" <<'EOF'
import nbd, sys
sock, lo, hi = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for start in range(lo, hi, 25):
    h = nbd.NBD()
    h.set_opt_mode(True)
    h.connect_unix(sock)
    for i in range(start, min(start + 25, hi)):
        h.set_export_name("probe-%06d" % i)
        h.opt_info()
    h.opt_abort()
    del h
EOF
}
rss_kib ()
{
  awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status"
}
probe 0 500 || fail "probing failed"
before="$(rss_kib)"
probe 500 5500 || fail "probing failed"
after="$(rss_kib)"
info "RSS ${before} KiB before and ${after} KiB after 5,000 probes"
[ $((after - before)) -le 2048 ] ||
  fail "5,000 probes grew RSS from $before to $after KiB"

# ---- (4) client-supplied text in the log ----

nbdsh -c '
h.set_export_name("evil\nnbdkit: nbds3[1]: error: FORGED LINE")
try:
    h.connect_unix("'"$(nbdkit_sock)"'")
except nbd.Error:
    pass
' 2>/dev/null || :
# (nbdkit -v's own debug lines quote the name raw, so the forged line
# does appear after them; it must not appear as the rest of ours.)
! grep -q "^nbdkit: nbds3\[1\]: error: FORGED LINE' is not valid" \
  "$(nbdkit_log)" || fail "an export name forged a log line"
grep -q 'evil\\nnbdkit' "$(nbdkit_log)" ||
  fail "the invalid name is not in the log, escaped"
long="$(head -c 4095 /dev/zero | tr '\0' 'L')"
nbdsh -c '
h.set_export_name("/'"$long"'")
try:
    h.connect_unix("'"$(nbdkit_sock)"'")
except nbd.Error:
    pass
' 2>/dev/null || :
# (nbdkit's own debug lines quote the name whole; nbds3's lines do not.)
longest="$(grep -v ': debug: ' "$(nbdkit_log)" | awk '{ print length }' |
           sort -n | tail -n 1)"
[ "$longest" -le 600 ] ||
  fail "a log line of $longest bytes: the long name was not cut"
grep -q 'LLLL' "$(nbdkit_log)" || fail "the long name is not in the log"

stop_nbdkit bounded
stop_nbdkit
