#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Crash consistency.  In each of ROUNDS rounds (default 3), the workload of
# tests/crash-driver.py writes stamped whole pages in random order into a
# 64-page export and flushes every few writes, keeping its oracle (per
# page: the last generation written, the last one a successful flush
# covered) in a file outside nbdkit.  Once the round has flushed at least
# once, nbdkit is killed with SIGKILL, in turn: while a flush is in
# flight, after a random delay, or (by the driver) as soon as a flush of
# many pages has returned.  The server's keys change from round to round
# (server_keys).  After a restart every page must be all zeros (never
# written) or one whole stamp of its own index, never torn, with flushed
# <= stored generation <= written; and no write or flush failed before
# the kill.  Rounds build on each other: what a round found stored is the
# least the next may find.
#
# The seed of the random choices (the driver's order, when to kill) is
# logged; SEED=N replays one, ROUNDS=N runs more (make check-stress).
#
# With CRASH_KILL=radosgw (STORE=s3, tests/test-s3-crash-rgw.sh) radosgw
# is killed with SIGKILL mid-flush and started again in each round before
# nbdkit is killed; see that file for what is expected.

source "$(dirname "$0")/functions.sh"

ROUNDS="${ROUNDS:-3}"
SEED="${SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}"
CRASH_KILL="${CRASH_KILL:-nbdkit}"
RANDOM="$SEED"
replay="SEED=$SEED ROUNDS=$ROUNDS STORE=$STORE CRASH_KILL=$CRASH_KILL $0"
info "SEED=$SEED ROUNDS=$ROUNDS STORE=$STORE CRASH_KILL=$CRASH_KILL" \
     "(replay: $replay)"

PAGES=64
PAGE_SIZE=$((128 * 1024))
KEYS=(size=8M page-size=128k)
# A radosgw outage shorter than this is invisible to clients but as delay.
RETRY_DEADLINE=60
case "$CRASH_KILL" in
  nbdkit) ;;
  radosgw)
    [ "$STORE" = s3 ] || fail "CRASH_KILL=radosgw needs STORE=s3"
    s3_start_server rgw
    KEYS+=("retry-deadline=$RETRY_DEADLINE")
    ;;
  *) fail "CRASH_KILL=$CRASH_KILL: nbdkit or radosgw" ;;
esac

# server_keys ROUND: the keys of the server that ROUND writes to, in
# turn: 1, 4 or 2 store requests at a time, and a cache that holds the
# whole export (writes never wait: dirty pages queue up for write-back,
# which a flush must wait for) or less than half of it (writes wait for
# write-back to make room).
server_keys ()
{
  local c=(1 4 2) m=(16M 3M)
  echo "connections=${c[$1 % 3]} cache-size=${m[$1 % 2]}"
}

state="$tmpdir/oracle.json"
driver ()
{
  "$NBD_PYTHON" "$srcdir/crash-driver.py" "$@" \
    --pages "$PAGES" --page-size "$PAGE_SIZE"
}

# sleep_ms MIN MAX: sleep a random time from MIN to MAX milliseconds.
sleep_ms ()
{
  local ms=$(($1 + RANDOM % ($2 - $1 + 1)))
  sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
}

flushes () { cat "$state.flushes" 2>/dev/null || echo 0; }
_flushes_reach () { [ "$(flushes)" -ge "$1" ]; }

# kill_radosgw_mid_flush: SIGKILL radosgw while the driver flushes (or
# when none was seen in 20 s, at once), start it again after a random
# outage, and wait until two more flushes have succeeded, so that one
# ran wholly after radosgw came back.
kill_radosgw_mid_flush ()
{
  local t0 secs n
  wait_for 20 test -e "$state.flushing" ||
    info "round $round: no flush seen in flight; killing radosgw anyway"
  kill -KILL "$(s3_rgw_pid)"
  t0="$(date +%s)"
  [ -e "$state.flushing" ] &&
    info "round $round: radosgw killed with a flush in flight"
  # Its bookkeeping: the radosgw it names has gone already.
  "$srcdir/s3-server.sh" stop-rgw-only "$s3_dir" >/dev/null 2>&1 ||
    fail "s3-server.sh stop-rgw-only after SIGKILL"
  sleep_ms 500 3000
  "$srcdir/s3-server.sh" start-rgw-only "$s3_dir" >/dev/null ||
    fail "radosgw did not start again"
  secs=$(($(date +%s) - t0))
  info "round $round: radosgw was down for about ${secs}s"
  [ "$secs" -lt $((RETRY_DEADLINE - 15)) ] ||
    fail "radosgw's outage (${secs}s) came too near retry-deadline" \
         "to judge; the machine is too slow for this test"
  n=$(($(flushes) + 2))
  wait_for 90 _flushes_reach "$n" ||
    fail "round $round: no flush succeeded within 90s of radosgw's return"
}

# shellcheck disable=SC2046 # server_keys is words
start_nbds3 "${KEYS[@]}" $(server_keys 1)
for ((round = 1; round <= ROUNDS; round++)); do
  rm -f "$state.flushes" "$state.flushing" "$state.arm"
  driver write "$(uri crash)" "$state" --seed $((SEED * 1000 + round)) \
    --kill-pid "$(nbdkit_pid)" >"$tmpdir/driver.$round.log" 2>&1 &
  dpid=$!
  bg_pid "$dpid"
  wait_for 60 _flushes_reach 1 || {
    cat "$tmpdir/driver.$round.log" >&2
    fail "round $round: no flush succeeded within 60s"
  }
  [ "$CRASH_KILL" = radosgw ] && kill_radosgw_mid_flush
  case $(((SEED + round) % 3)) in
    0)
      how="during a flush"
      wait_for 20 test -e "$state.flushing" || how="(no flush seen in 20s)"
      kill9_nbdkit
      ;;
    1)
      sleep_ms 0 1500
      how="after a random delay"
      kill9_nbdkit
      ;;
    2)
      # The moment a flush that lies is found out: the driver kills
      # nbdkit as soon as a flush returns.
      sleep_ms 0 500
      how="by the driver as soon as a flush returned"
      touch "$state.arm"
      wait_for 60 _pid_gone "$(nbdkit_pid)" ||
        fail "round $round: the driver did not kill nbdkit"
      [ "$(nbdkit_exit_status)" = 137 ] || fail "nbdkit was not killed"
      rm -f "$tmpdir/main.pid"
      ;;
  esac
  rc=0
  wait "$dpid" || rc=$?
  sed "s/^/round $round: driver: /" "$tmpdir/driver.$round.log"
  [ "$rc" = 0 ] || fail "round $round: the driver exited with status $rc"
  info "round $round: nbdkit killed $how after $(flushes) flushes"

  # (S3: the dead server's lease is broken on purpose.)
  # shellcheck disable=SC2046
  start_nbds3 "${KEYS[@]}" $(server_keys $((round + 1))) "${TAKEOVER_KEYS[@]}"
  driver check "$(uri crash)" "$state" | sed "s/^/round $round: /" ||
    fail "round $round: the store after the kill breaks the oracle" \
         "(replay: $replay)"
done

info "ok: $ROUNDS rounds of kill -9 ($CRASH_KILL): no page torn, none lost"
