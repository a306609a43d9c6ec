#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# nbds3 snapshot (store/store-snap*.c, tool/cmd-snapshot.c):
#   1. FS only: a hard link of a page file keeps the old page, bytes and
#      checksum attribute, when nbds3 rewrites the page (store-fs.c's
#      immutability invariant, which FS snapshots rest on).
#   2. A snapshot of a quiescent export (no server) equals it byte for
#      byte, and still does after the export is rewritten; its metadata
#      says read-only and snapshot-of; it is served read-only.  A
#      snapshot of a clone that a server holds (through its chain) holds
#      the clone's pages and tombstones, and keeps its base.
#   3. A snapshot of an export under a running write-and-flush workload of
#      generation-stamped pages (tests/snapshot-pages.py) is
#      crash-consistent: no page torn or missing, every round flushed
#      before the request is there, no round that started after the tool
#      had the point, at most two consecutive rounds.  The tool's copy is
#      held back (NBDS3_SNAP_TEST_COPY_AFTER) until the workload has
#      rewritten every page twice since the point, so the server must
#      copy each one before (copy-before-write).
#   4. The same with the server killed (kill -9) and restarted between
#      the point and the tool's copy: the new server resumes
#      copy-before-write from nbds3.snappoint.

source "$(dirname "$0")/functions.sh"
require_tools nbdcopy nbdsh cmp python3

TOOL="${abs_top_builddir:-$srcdir/..}/tool/nbds3"
PAGES_PY="$srcdir/snapshot-pages.py"
P=65536
NPAGES=32
KEYS=(size=$((NPAGES * P)) page-size=64k cache-size=8M)
# On S3 the server looks for a request every lease-timeout/6 (2 s).
[ "$STORE" = s3 ] &&
  KEYS+=(lease-timeout=12 request-timeout=2 connect-timeout=1
         retry-deadline=4)
store_setup

# nbds3_tool ARG...: the tool on the test's store.
nbds3_tool ()
{
  "$TOOL" "$@" "${STORE_KEYS[@]}" ${KEYS_TOOL[@]+"${KEYS_TOOL[@]}"}
}
KEYS_TOOL=()
[ "$STORE" = s3 ] && KEYS_TOOL=(lease-timeout=12 request-timeout=2
                                connect-timeout=1)

# store_object EXPORT NAME: print the named object of EXPORT.
store_object ()
{
  case "$STORE" in
    fs) cat "$data_dir/exports/$1/$2" ;;
    s3) s3_python 'import sys
sys.stdout.write(s3_get("exports/%s/%s" % (sys.argv[1], sys.argv[2])).decode())' \
          "$1" "$2" ;;
  esac
}

now_ms ()
{
  echo $(($(date +%s%N) / 1000000))
}

start_nbds3 "${KEYS[@]}"

# ---- 1. FS: a link keeps the old page ----

# checksum_of FILE: its user.nbds3.crc32c attribute.
checksum_of ()
{
  python3 -c 'import os, sys
print(os.getxattr(sys.argv[1], "user.nbds3.crc32c").decode())' "$1"
}

if [ "$STORE" = fs ]; then
  nbdsh -u "$(uri inv)" -c 'h.pwrite(b"1" * 65536, 0); h.flush()'
  page="$data_dir/exports/inv/page-00000000.bin"
  ln "$page" "$tmpdir/link"
  old_sum="$(checksum_of "$tmpdir/link")"
  cp "$tmpdir/link" "$tmpdir/old"
  nbdsh -u "$(uri inv)" -c 'h.pwrite(b"2" * 65536, 0); h.flush()'
  cmp -s "$tmpdir/link" "$tmpdir/old" ||
    fail "a hard link of a page changed when nbds3 rewrote the page"
  [ "$(checksum_of "$tmpdir/link")" = "$old_sum" ] ||
    fail "the checksum attribute of a hard-linked page changed"
  [ "$(stat -c %i "$page")" != "$(stat -c %i "$tmpdir/link")" ] ||
    fail "the page was rewritten in place"
  cmp -s "$page" <(head -c $P /dev/zero | tr '\0' 2) ||
    fail "the page does not hold the new bytes"
  info "1. a hard link keeps the old page, bytes and checksum"
fi

# ---- 2. a quiescent export ----

random_file "$tmpdir/q1" $((NPAGES * P))
nbdcopy --flush "$tmpdir/q1" "$(uri q)"
stop_nbdkit
nbds3_tool --json snapshot q qs >"$tmpdir/q.json"
python3 - "$tmpdir/q.json" $NPAGES <<'EOF' || fail "snapshot report: $(cat "$tmpdir/q.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["held"] is False, r
assert r["pages"] == int(sys.argv[2]) == r["copied-by-tool"], r
EOF
store_object qs nbds3.meta >"$tmpdir/qs.meta"
grep -qx 'read-only=true' "$tmpdir/qs.meta" &&
  grep -qx 'snapshot-of=q' "$tmpdir/qs.meta" &&
  grep -qx 'checksums=required' "$tmpdir/qs.meta" ||
  fail "the snapshot's metadata: $(cat "$tmpdir/qs.meta")"
if nbds3_tool snapshot q qs 2>"$tmpdir/again.err"; then
  fail "a second snapshot over an existing export succeeded"
fi
grep -q "exists already" "$tmpdir/again.err" ||
  fail "a snapshot over an existing export: $(cat "$tmpdir/again.err")"
if store_object qs nbds3.snapreq >/dev/null 2>&1; then
  fail "a refused snapshot left a request object in the existing export"
fi
start_nbds3 "${KEYS[@]}"
nbdcopy "$(uri qs)" - | cmp -s - "$tmpdir/q1" ||
  fail "the snapshot of a quiescent export differs from it"
nbdsh -u "$(uri qs)" -c 'assert h.is_read_only()' ||
  fail "the snapshot is served writable"
random_file "$tmpdir/q2" $((NPAGES * P))
nbdcopy --flush "$tmpdir/q2" "$(uri q)"
# Read on a server of its own: main has the snapshot's pages cached.
start_nbds3_as ro -r "${KEYS[@]}"
nbdcopy "$(uri q ro)" - | cmp -s - "$tmpdir/q2" ||
  fail "the export was not rewritten"
nbdcopy "$(uri qs ro)" - | cmp -s - "$tmpdir/q1" ||
  fail "the snapshot changed when its export was rewritten"
stop_nbdkit ro
info "2. a snapshot of a quiescent export equals it, and stays so"

# 2a. A holder that lets go of the export while the tool waits for its
# answer (its last client left just before it noticed the request): the
# tool takes the guard itself, well before its 10 s wait runs out.  The
# holder is a bare flock here, which never answers.
if [ "$STORE" = fs ]; then
  flock -x "$data_dir/exports/q" sleep 2 &
  holder=$!
  sleep 0.5
  start=$(date +%s)
  nbds3_tool --json snapshot q qs2 >"$tmpdir/qs2.json" 2>"$tmpdir/qs2.err" ||
    fail "a snapshot after its holder let go: $(cat "$tmpdir/qs2.err")"
  [ $(( $(date +%s) - start )) -lt 8 ] ||
    fail "the snapshot waited for a holder that had let go"
  wait "$holder"
  python3 -c 'import json,sys; r = json.load(open(sys.argv[1]))
assert r["held"] is False, r' "$tmpdir/qs2.json" ||
    fail "report: $(cat "$tmpdir/qs2.json")"
  start_nbds3_as ro -r "${KEYS[@]}"
  nbdcopy "$(uri qs2 ro)" - | cmp -s - "$tmpdir/q2" ||
    fail "the snapshot taken after its holder let go differs"
  stop_nbdkit ro
  info "2a. a holder that lets go: the tool takes the point itself"
fi

# 2c. Two snapshots into one name: the second waits for the first (it
# holds the export), takes its own point, finds the name taken by then
# and fails, and the first's snapshot is left whole.
if [ "$STORE" = fs ]; then
  NBDS3_SNAP_TEST_COPY_AFTER="$tmpdir/go-qs3" \
    nbds3_tool snapshot q qs3 >"$tmpdir/qs3a.out" 2>&1 &
  first=$!
  sleep 0.5
  nbds3_tool snapshot q qs3 >"$tmpdir/qs3b.out" 2>&1 &
  second=$!
  sleep 0.5
  : >"$tmpdir/go-qs3"
  wait "$first" || fail "the first snapshot into qs3: $(cat "$tmpdir/qs3a.out")"
  if wait "$second"; then
    fail "a second snapshot into qs3 succeeded: $(cat "$tmpdir/qs3b.out")"
  fi
  start_nbds3_as ro -r "${KEYS[@]}"
  nbdcopy "$(uri qs3 ro)" - | cmp -s - "$tmpdir/q2" ||
    fail "a second snapshot into its name damaged the first: $(cat "$tmpdir/qs3b.out")"
  stop_nbdkit ro
  info "2c. a second snapshot into one name fails, the first stays whole"
fi

# 2d. A request that cannot be withdrawn (made immutable here) leaves its
# server copying pages before it changes them: the tool says so and exits
# 1, although the snapshot is made.  Needs chattr (ext4 and the like).
if [ "$STORE" = fs ] && touch "$tmpdir/imm" && chattr +i "$tmpdir/imm" 2>/dev/null
then
  chattr -i "$tmpdir/imm"
  hold_client hq "$(uri q)" 'pass'
  NBDS3_SNAP_TEST_COPY_AFTER="$tmpdir/go-qs4" \
    nbds3_tool snapshot q qs4 >"$tmpdir/qs4.out" 2>&1 &
  snap=$!
  wait_for 30 test -e "$data_dir/exports/q/nbds3.snappoint" ||
    fail "the server recorded no point for qs4"
  chattr +i "$data_dir/exports/q/nbds3.snapreq"
  : >"$tmpdir/go-qs4"
  rc=0
  wait "$snap" || rc=$?
  chattr -i "$data_dir/exports/q/nbds3.snapreq"
  [ "$rc" = 1 ] && grep -q "could not be withdrawn" "$tmpdir/qs4.out" ||
    fail "a request left behind (exit $rc): $(cat "$tmpdir/qs4.out")"
  rm -f "$data_dir/exports/q/nbds3.snapreq" "$data_dir/exports/q/nbds3.snappoint"
  release_client hq
  info "2d. a request the tool cannot withdraw: it says so and exits 1"
else
  info "2d. skipped: no chattr +i here"
fi

# ---- 2b. a clone held by a server: its pages and tombstones ----

nbds3_tool clone qs c >/dev/null || fail "nbds3 clone qs c failed"
nbdsh -u "$(uri c)" -c "
h.pwrite(b'X' * $P, 1 * $P)
h.trim($P, 2 * $P)
h.flush()"
hold_client c "$(uri c)" 'pass'
nbds3_tool --json snapshot c cs >"$tmpdir/cs.json" 2>"$tmpdir/cs.err" ||
  fail "nbds3 snapshot of a held clone failed: $(cat "$tmpdir/cs.err")"
# A held export is no error: the tool asks who holds it before it tries.
! grep -q "error" "$tmpdir/cs.err" ||
  fail "nbds3 snapshot of a held export printed: $(cat "$tmpdir/cs.err")"
release_client c
python3 - "$tmpdir/cs.json" <<'EOF' || fail "snapshot report: $(cat "$tmpdir/cs.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["held"] is True and r["pages"] == 1 and r["tombstones"] == 1, r
EOF
store_object cs nbds3.meta | grep -qx 'base=qs' ||
  fail "the snapshot of a clone lost its base"
# The base knows the snapshot reads from it: it is not deleted under it.
store_object qs clones/cs >/dev/null 2>&1 ||
  fail "the base of a snapshotted clone has no back-reference clones/cs"
start_nbds3_as ro -r "${KEYS[@]}"
nbdcopy "$(uri c ro)" - | cmp -s - <(nbdcopy "$(uri cs ro)" -) ||
  fail "the snapshot of a clone differs from the clone"
nbdsh -u "$(uri cs ro)" -c "assert h.pread($P, 2 * $P) == bytes($P)" ||
  fail "a tombstone of the clone does not read as zeros in its snapshot"
stop_nbdkit ro
info "2b. a snapshot of a held clone holds its pages and tombstones"

# ---- 3. under a write-and-flush workload ----

# start_writer LOG FIRST: the workload on export w, from round FIRST.
start_writer ()
{
  "$NBD_PYTHON" "$PAGES_PY" write "$(uri w)" $NPAGES $P "$1" \
    "$tmpdir/stop" "$2" >>"$tmpdir/writer.log" 2>&1 &
  writer=$!
  bg_pid $writer
}

rounds ()
{
  if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi
}

# rounds_at_least LOG N: true once LOG has N rounds.
rounds_at_least ()
{
  [ "$(rounds "$1")" -ge "$2" ]
}

# check_snapshot NAME LOG REQUEST_MS REPORT: read NAME on a read-only
# server and check it (snapshot-pages.py check).
check_snapshot ()
{
  start_nbds3_as ro -r "${KEYS[@]}"
  "$NBD_PYTHON" "$PAGES_PY" check "$(uri "$1" ro)" $NPAGES $P "$2" "$3" \
    "$4" || fail "snapshot $1 is not crash-consistent (see above)"
  stop_nbdkit ro
}

point_recorded ()
{
  store_object w nbds3.snappoint >/dev/null 2>&1
}

# run_tool NAME: nbds3 snapshot w NAME in the background (pid in $tool),
# its copy held back until $tmpdir/go-NAME exists.
run_tool ()
{
  NBDS3_SNAP_TEST_COPY_AFTER="$tmpdir/go-$1" \
    nbds3_tool --json snapshot w "$1" >"$tmpdir/$1.json" \
    2>"$tmpdir/$1.err" &
  tool=$!
  bg_pid $tool
}

log="$tmpdir/rounds-w"
start_writer "$log" 1
wait_for 60 rounds_at_least "$log" 3 || fail "the workload does not run"
request=$(now_ms)
run_tool ws
wait_for 60 point_recorded || fail "the server recorded no point"
# Every page is rewritten after the point, before the tool copies.
after=$(rounds "$log")
wait_for 60 rounds_at_least "$log" $((after + 2)) ||
  fail "the workload stopped"
touch "$tmpdir/go-ws"
wait $tool ||
  fail "nbds3 snapshot of a busy export failed: $(cat "$tmpdir/ws.err")"
after=$(rounds "$log")
wait_for 60 rounds_at_least "$log" $((after + 2)) ||
  fail "the workload stopped"
touch "$tmpdir/stop"
wait $writer || fail "the workload failed: $(cat "$tmpdir/writer.log")"
rm -f "$tmpdir/stop"
cat "$tmpdir/ws.json"
check_snapshot ws "$log" $request "$tmpdir/ws.json"
python3 - "$tmpdir/ws.json" <<'EOF' || fail "snapshot report: $(cat "$tmpdir/ws.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["held"] is True, r
assert r["copied-by-holder"] > 0, r
EOF
info "3. a snapshot under a write-and-flush workload is crash-consistent"

# ---- 4. the server restarted between the point and the copy ----

# The workload pauses (a client holds the export open, so the server
# still holds it) while the point is recorded, so that the server copies
# nothing before it is killed; the workload resumes on the restarted
# server, which must copy every page before its first rewrite.
log="$tmpdir/rounds-k"
start_writer "$log" 1
wait_for 60 rounds_at_least "$log" 3 || fail "the workload does not run"
hold_client idle "$(uri w)" 'pass'
touch "$tmpdir/stop"
wait $writer || fail "the workload failed: $(cat "$tmpdir/writer.log")"
rm -f "$tmpdir/stop"
request=$(now_ms)
run_tool wk
wait_for 60 point_recorded || fail "the server recorded no point"
kill9_nbdkit
release_client idle
start_nbds3 "${KEYS[@]}" ${TAKEOVER_KEYS[@]+"${TAKEOVER_KEYS[@]}"}
start_writer "$log" $(($(tail -n 1 "$log" | cut -d' ' -f1) + 1))
after=$(rounds "$log")
wait_for 60 rounds_at_least "$log" $((after + 2)) ||
  fail "the workload does not run on the restarted server"
touch "$tmpdir/go-wk"
wait $tool ||
  fail "nbds3 snapshot failed across a restart: $(cat "$tmpdir/wk.err")"
touch "$tmpdir/stop"
wait $writer || fail "the workload failed: $(cat "$tmpdir/writer.log")"
cat "$tmpdir/wk.json"
grep -q "wk' of export 'w': resumed from its" "$tmpdir/main.log" ||
  fail "the restarted server did not resume copy-before-write"
check_snapshot wk "$log" $request "$tmpdir/wk.json"
info "4. a server killed between the point and the copy: still consistent"
