#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# All-zero pages are holes.  64 MiB of zeros piped through nbdcopy and
# flushed leave no page in the store and cost no PUT.  Then four pages get
# data (stored: four PUTs) and are made all zeros again in four ways: a
# whole-page write of zeros, zeros written in two halves, NBD_CMD_ZERO,
# and zeros over just the bytes that were not zero.  After a flush their
# objects are deleted, they read as zeros, nbdinfo --map shows the export
# as one hole, and the counters say 4 PUTs and 4 deletes; the same after
# a restart.

source "$(dirname "$0")/functions.sh"
require_tools nbdcopy nbdinfo nbdsh dd python3

P=$((1 * MiB))
stats="$tmpdir/stats.json"
start_nbds3 stats-file="$stats" page-size=1M size=64M cache-size=32M

show_stats ()
{
  cat "$stats" >&2 || :
}

# assert_all_holes: every page reads as zeros, the map is one hole, and
# the store holds no page.
assert_all_holes ()
{
  local pages map
  pages="$(store_pages z | tr '\n' ' ')"
  [ -z "$pages" ] || fail "pages stored: $pages"
  nbdinfo --map --json "$(uri z)" >"$tmpdir/map.json"
  map="$(python3 -c '
import json, sys
for e in json.load(open(sys.argv[1])):
    print(e["offset"], e["length"], e["type"])
' "$tmpdir/map.json" | tr '\n' ' ')"
  [ "$map" = "0 $((64 * MiB)) 3 " ] ||
    fail "nbdinfo --map: $map (expected one hole,zero extent)"
  nbdcopy "$(uri z)" - | cmp -s - <(head -c $((64 * MiB)) /dev/zero) ||
    fail "the export does not read as zeros"
}

# ---- 64 MiB of zeros: nothing stored ----

dd if=/dev/zero bs=1M count=64 status=none |
  nbdcopy --flush - "$(uri z)"
wait_for 8 stats_check "$stats" "x['z']['dirty_pages'] == 0" ||
  { show_stats; fail "pages still dirty after the flush"; }
stats_check "$stats" "t['puts'] == 0" "t['deletes'] == 0" ||
  { show_stats; fail "zeros were stored"; }
assert_all_holes
stats_check "$stats" "x['z']['zero_pages'] == 64" ||
  { show_stats; fail "the statistics do not show 64 zero pages"; }
info "64 MiB of zeros: no page stored, no PUT"

# ---- data, then zeros again ----

random_file "$tmpdir/pages" $((4 * P))
nbdsh -u "$(uri z)" -c '
import os
P = 1 << 20
d = open(os.environ["tmpdir"] + "/pages", "rb").read()
for i, page in enumerate((3, 10, 20)):
    h.pwrite(d[i * P:(i + 1) * P], page * P)
h.pwrite(d[3 * P:3 * P + 4096], 30 * P + 12345)   # page 30: 4 KiB of data
h.flush()
'
[ "$(store_pages z | tr '\n' ' ')" = "3 10 20 30 " ] ||
  fail "pages stored after the data: $(store_pages z | tr '\n' ' ')"
wait_for 8 stats_check "$stats" "t['puts'] == 4" ||
  { show_stats; fail "not 4 PUTs for 4 pages of data"; }

nbdsh -u "$(uri z)" -c '
P = 1 << 20
h.pwrite(bytes(P), 3 * P)                          # a whole page of zeros
h.pwrite(bytes(P // 2), 10 * P)                    # zeros in two halves
h.pwrite(bytes(P // 2), 10 * P + P // 2)
h.zero(P, 20 * P)                                  # NBD_CMD_ZERO
h.pwrite(bytes(4096), 30 * P + 12345)              # just the data
h.flush()
'
wait_for 8 stats_check "$stats" "t['deletes'] == 4" "t['dirty_pages'] == 0" ||
  { show_stats; fail "not 4 deletes"; }
stats_check "$stats" "t['puts'] == 4" "t['zero_pages'] >= 67" ||
  { show_stats; fail "zeros were stored"; }
assert_all_holes
info "pages of data overwritten with zeros: deleted, holes, read as zeros"

# ---- the same after a restart ----

restart_nbds3
assert_all_holes
info "ok: all-zero pages are holes, also after a restart"
