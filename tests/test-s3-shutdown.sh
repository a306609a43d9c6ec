#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Shutdown keeps its bound with S3 hung.  This test's own radosgw is
# frozen (SIGSTOP) while a client has written 4 pages and waits in a
# flush; nbdkit gets SIGTERM.  It must
#   - say at once how many dirty pages of how many exports it writes back
#     within shutdown-timeout;
#   - end the client's flush, so that nbdkit can go on to .cleanup;
#   - cancel the requests still in flight at the deadline, instead of
#     waiting out request-timeout (30 s here) or retry-deadline (60 s);
#   - exit within shutdown-timeout + 5 s, naming each page not written
#     and ending with one summary line;
#   - keep the export's lease (aborted requests may still land).
# Before, nbdkit waited for the client's flush (retry-deadline), then for
# the final write-back's requests: more than a minute.

STORE=s3
source "$(dirname "$0")/functions.sh"

s3_start_server rgw
RGW_PID="$(s3_rgw_pid)"
on_cleanup "kill -CONT $RGW_PID 2>/dev/null"

ST=5
start_nbds3 size=4M page-size=64k cache-size=4M shutdown-timeout=$ST \
  request-timeout=30 connect-timeout=5 retry-deadline=60
nbdsh -u "$(uri sd)" -c 'h.pwrite(b"x" * 512, 0); h.flush()' ||
  fail "cannot write export sd"

kill -STOP "$RGW_PID"
nbdsh -u "$(uri sd)" -c '
h.pwrite(b"y" * 4 * 65536, 65536)
h.flush()
' >"$tmpdir/client.out" 2>&1 &
client=$!
sleep 2                         # the client waits in its flush
kill -0 "$client" 2>/dev/null || {
  cat "$tmpdir/client.out" >&2
  fail "the client's flush did not wait for the frozen S3 server"
}

start=$(date +%s.%N)
signal_nbdkit TERM
pid="$(nbdkit_pid)"
wait_for $((ST + 20)) _pid_gone "$pid" ||
  fail "nbdkit did not exit within $((ST + 20)) s of SIGTERM"
took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
info "nbdkit exited $took s after SIGTERM (shutdown-timeout=$ST)"
awk -v t="$took" -v lim=$((ST + 5)) 'BEGIN { exit !(t <= lim) }' ||
  fail "nbdkit took $took s to exit, more than shutdown-timeout + 5 s"
wait "$client" 2>/dev/null && fail "the client's flush succeeded"

log="$(nbdkit_log)"
grep -q "shutting down: writing back [1-9][0-9]* dirty pages .* of 1 exports within shutdown-timeout=$ST s" "$log" ||
  fail "no line at SIGTERM saying how many dirty pages are written back"
grep -q "export 'sd': page [1-4] (bytes .*) could not be written back" "$log" ||
  fail "the pages not written back are not named"
grep -q "shutdown: [1-9][0-9]* dirty pages ([0-9]* bytes) of 1 exports were not written back" "$log" ||
  fail "no summary line of the pages not written back"

# Requests were aborted in flight and may still land: the lease is kept,
# so that no other server takes the export before lease-timeout.
grep -q "S3 export sd: its lease .* is not released" "$log" ||
  fail "the log does not say that the lease is kept"
kill -CONT "$RGW_PID"
s3_python 'import sys; sys.stdout.write(s3_get("exports/sd/nbds3.lease").decode())' |
  grep -q "^state=held" || fail "the lease was released after aborted requests"

info "ok: SIGTERM with S3 hung exits within shutdown-timeout, saying what is lost"
