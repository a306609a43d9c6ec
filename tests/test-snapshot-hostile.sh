#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Crash leftovers of nbds3 clone, snapshot and delete (tool/cmd-delete.c,
# store/store-clone.c):
#   1. A back-reference clones/NAME in a base without an export NAME (what
#      a clone killed between its back-reference and its metadata leaves,
#      or a delete of a clone killed before it unlinked it from its base)
#      does not keep the base from being deleted: delete removes it, while
#      a real clone still refuses the delete.
#   2. A back-reference of a clone being created (its guard held, no
#      metadata yet) still refuses the delete of its base.
#   3. Two snapshots into one name at once (of two exports): the second
#      is refused and removes nothing; before, it removed what the first
#      had copied (no metadata yet: "a leftover"), wrote its own snapshot,
#      and the first, failing on the metadata, then removed all of it.

source "$(dirname "$0")/functions.sh"
require_tools nbdsh

TOOL="${abs_top_builddir:-$srcdir/..}/tool/nbds3"
P=65536
store_setup

# nbds3_tool ARG...: the tool on the test's store.
nbds3_tool ()
{
  "$TOOL" "$@" "${STORE_KEYS[@]}"
}

# put_empty EXPORT NAME: store an empty named object NAME in EXPORT, as
# the tool would.
put_empty ()
{
  case "$STORE" in
    fs) mkdir -p "$(dirname "$data_dir/exports/$1/$2")"
        : >"$data_dir/exports/$1/$2" ;;
    s3) s3_python 'import sys
s3.put_object(Bucket=bucket, Key="exports/%s/%s" % (sys.argv[1], sys.argv[2]),
              Body=b"")' "$1" "$2" ;;
  esac
}

# ---- 1. a stale back-reference ----

nbds3_tool create gold --size=$((4 * P)) --page-size=64k >/dev/null
start_nbds3 page-size=64k
nbdsh -u "$(uri gold)" -c 'h.pwrite(b"g" * 65536, 65536); h.flush()'
stop_nbdkit main
nbds3_tool snapshot gold snap >/dev/null
nbds3_tool clone snap vm >/dev/null
put_empty snap clones/ghost

if nbds3_tool delete snap 2>"$tmpdir/err"; then
  fail "delete of a base with a real clone succeeded"
fi
grep -q "base of" "$tmpdir/err" || { cat "$tmpdir/err"; fail "no clone named"; }
nbds3_tool delete vm >/dev/null
nbds3_tool delete snap 2>"$tmpdir/err" || {
  cat "$tmpdir/err"
  fail "a back-reference to no export keeps its base from being deleted"
}
store_export_exists snap && fail "snap still exists after its delete"
store_export_exists ghost && fail "the check of ghost left objects"
info "1. a stale back-reference does not keep its base"

# ---- 2. a clone being created ----

nbds3_tool snapshot gold snap2 >/dev/null
put_empty snap2 clones/busy
hold_guard_pid=
case "$STORE" in
  fs) mkdir -p "$data_dir/exports/busy"
      flock "$data_dir/exports/busy" sleep 30 &
      hold_guard_pid=$!
      on_cleanup "kill $hold_guard_pid 2>/dev/null || :"
      sleep 0.3 ;;
  s3) # A fresh lease, as store_claim writes it (store-s3-lease.c).
      nbds3_tool create busy --size=$P --page-size=64k >/dev/null
      start_nbds3_as busy page-size=64k
      hold_client busy "$(uri busy busy)" 'h.pwrite(b"b" * 512, 0); h.flush()'
      s3_python 's3.delete_object(Bucket=bucket, Key="exports/busy/nbds3.meta")' ;;
esac
if nbds3_tool delete snap2 2>"$tmpdir/err"; then
  fail "delete of a base whose clone is being created succeeded"
fi
store_export_exists snap2 || fail "snap2 was deleted under a clone"
info "2. a clone being created keeps its base"
[ -n "$hold_guard_pid" ] && kill "$hold_guard_pid" 2>/dev/null
[ "$STORE" = s3 ] && release_client busy

# ---- 3. two snapshots into one name ----

# A snapshot of ex into kk waits between its point and its copy (the test
# hook) while a snapshot of ey into kk runs: that one must be refused and
# remove nothing, and kk must end up ex's snapshot, whole.
for e in ex ey; do
  nbds3_tool create $e --size=$((4 * P)) --page-size=64k >/dev/null
done
start_nbds3 page-size=64k
nbdsh -u "$(uri ex)" -c 'h.pwrite(b"x" * 262144, 0); h.flush()'
nbdsh -u "$(uri ey)" -c 'h.pwrite(b"y" * 262144, 0); h.flush()'
stop_nbdkit main
NBDS3_SNAP_TEST_COPY_AFTER="$tmpdir/go" nbds3_tool -v snapshot ex kk \
  >"$tmpdir/a.out" 2>&1 &
a_pid=$!
wait_for 10 grep -q 'before the copy (test)' "$tmpdir/a.out" ||
  fail "the first snapshot into kk did not reach its point"
if nbds3_tool snapshot ey kk 2>"$tmpdir/err"; then
  fail "a second snapshot into a name being filled succeeded"
fi
touch "$tmpdir/go"
wait "$a_pid" || { cat "$tmpdir/a.out"; fail "the first snapshot into kk failed"; }
start_nbds3 page-size=64k
nbdsh -u "$(uri kk)" -c 'assert h.pread(262144, 0) == b"x" * 262144' ||
  fail "kk is not ex's snapshot, whole"
stop_nbdkit main
nbds3_tool verify kk >/dev/null || fail "kk does not verify"
info "3. two snapshots into one name: the second is refused, harmlessly"

# ---- 4. a snapshot tool killed holding the export's guard ----
# On S3 its leases stay, looking held: break-lease=true takes them over
# at once, instead of sending a request nobody answers and waiting
# 2 x lease-timeout.  (On FS the kill releases the locks.)
# (The binary itself in the background, so that $! is the tool's pid.)
NBDS3_SNAP_TEST_COPY_AFTER="$tmpdir/never" "$TOOL" -v snapshot ex kz \
  "${STORE_KEYS[@]}" >"$tmpdir/kz.out" 2>&1 &
kz_pid=$!
wait_for 10 grep -q 'before the copy (test)' "$tmpdir/kz.out" ||
  fail "the snapshot into kz did not reach its point"
kill -9 "$kz_pid"
wait "$kz_pid" 2>/dev/null || :
start=$(date +%s)
take_over=()
[ "$STORE" = s3 ] && take_over=(break-lease=true)
nbds3_tool snapshot ex kz "${take_over[@]}" >"$tmpdir/kz2.out" 2>&1 ||
  fail "a snapshot after a killed one, with break-lease: $(cat "$tmpdir/kz2.out")"
[ $(( $(date +%s) - start )) -lt 20 ] ||
  fail "the snapshot after a killed one waited for a holder"
start_nbds3 page-size=64k
nbdsh -u "$(uri kz)" -c 'assert h.pread(262144, 0) == b"x" * 262144' ||
  fail "kz is not ex's snapshot"
stop_nbdkit main
info "4. after a snapshot tool was killed, break-lease=true takes over"

# ---- 5. a holder that lost its lease does not answer (S3) ----
# A holds export lx; B takes it with break-lease=true, and A's next
# renewal finds its lease gone.  A snapshot request must be answered by
# B alone: A's point could have B's writes after it.
if [ "$STORE" = s3 ]; then
  LKEYS=(size=1M page-size=64k lease-timeout=6 request-timeout=1
         connect-timeout=1 retry-deadline=2)
  nbds3_tool create lx --size=1M --page-size=64k >/dev/null
  start_nbds3_as la "${LKEYS[@]}"
  hold_client ha "$(uri lx la)" 'h.pwrite(b"a" * 65536, 0); h.flush()'
  start_nbds3_as lb "${LKEYS[@]}" break-lease=true
  hold_client hb "$(uri lx lb)" 'h.pwrite(b"b" * 65536, 0); h.flush()'
  wait_for 20 grep -q "lease.*\(lost\|taken\|written by\)" \
    "$(nbdkit_log la)" || fail "server la never saw its lease lost"
  nbds3_tool snapshot lx lxs lease-timeout=6 request-timeout=1 \
    connect-timeout=1 >"$tmpdir/lx.out" 2>&1 ||
    fail "snapshot of lx: $(cat "$tmpdir/lx.out")"
  if grep -q "point recorded" "$(nbdkit_log la)"; then
    fail "server la answered a snapshot request after it lost its lease"
  fi
  grep -q "point recorded" "$(nbdkit_log lb)" ||
    fail "server lb did not answer the snapshot request"
  release_client hb
  release_client ha
  stop_nbdkit lb
  stop_nbdkit la
  info "5. a holder that lost its lease does not answer snapshot requests"
fi
