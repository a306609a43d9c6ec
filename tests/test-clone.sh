#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Clones, through real clients (qemu-io, nbdsh, nbdcopy, nbdinfo --map):
# - nbds3 clone refuses a base that does not exist or is not read-only,
#   a name that exists, and a name that is not valid;
# - a clone reads as its base until written; writes, trims, zeros and
#   zero-writes land in the clone only: the base and a second clone of it
#   read as before, byte for byte, and extents say exactly which pages
#   hold data;
# - a trimmed or zeroed page that the base holds stays zeros after a
#   restart (its tombstone, page-%08x.zero, is stored in the clone);
# - the plugin never writes a read-only export, nor claims it: a
#   writable connection to it is served read-only;
# - extents and bytes are exact over a chain of depth 3 (gold -> c1 ->
#   d2 -> d3), each layer writing and trimming other pages.
# Until nbds3 snapshot exists, a read-only base is made by hand: the
# export is written through nbdkit, nbdkit stopped, and its nbds3.meta
# rewritten with format 3 and read-only=true (make_read_only), which
# stands in for a snapshot.

source "$(dirname "$0")/functions.sh"
require_tools nbdcopy nbdinfo nbdsh qemu-io python3 cmp

P=$MiB
N=16                            # pages per export
tool_bin="${abs_top_builddir:-$srcdir/..}/tool/nbds3"
[ -x "$tool_bin" ] || fail "$tool_bin is not built"
store_setup

# tool ARG...: the nbds3 tool on the test's store.
tool ()
{
  "$tool_bin" "$@" "${STORE_KEYS[@]}"
}

# refused STATUS WORDS ARG...: the tool exits with STATUS and says WORDS.
refused ()
{
  local want="$1" words="$2" rc=0
  shift 2
  tool "$@" >"$tmpdir/tool.out" 2>&1 || rc=$?
  [ "$rc" = "$want" ] ||
    fail "nbds3 $* exited $rc, not $want: $(cat "$tmpdir/tool.out")"
  grep -qF "$words" "$tmpdir/tool.out" ||
    fail "nbds3 $* did not say '$words': $(cat "$tmpdir/tool.out")"
}

# make_read_only EXPORT (nbdkit stopped): what nbds3 snapshot will do for
# a clone's base, by hand.
REWRITE_PY='
import re, sys
def read_only(text):
    text = re.sub(rb"version=\d+", b"version=3", text)
    return text + b"read-only=true\n"
'
make_read_only ()
{
  case "$STORE" in
    fs)
      "$NBD_PYTHON" -c "$REWRITE_PY
p = sys.argv[1]
d = open(p, 'rb').read()
open(p, 'wb').write(read_only(d))" "$data_dir/exports/$1/nbds3.meta"
      ;;
    s3)
      s3_python "$REWRITE_PY
k = sys.argv[1]
s3.put_object(Bucket=bucket, Key=k, Body=read_only(s3_get(k)))" \
        "exports/$1/nbds3.meta"
      ;;
  esac
}

# lease_of EXPORT (S3): the ETag of EXPORT's lease object, which every
# take or renewal changes ("none" if it has none).
lease_of ()
{
  s3_python '
import sys
try:
    print(s3.head_object(Bucket=bucket, Key=sys.argv[1])["ETag"])
except Exception as e:
    print("none")' "exports/$1/nbds3.lease"
}

# names EXPORT: the page and tombstone objects of EXPORT, sorted.
names ()
{
  case "$STORE" in
    fs) (cd "$data_dir/exports/$1" && ls) ;;
    s3) _s3_keys | sed -n "s|^exports/$1/||p" ;;
  esac | grep '^page-' | sort | tr '\n' ' '
}

# edit EXPORT IMG MAP OP...: change EXPORT through the clients and the
# expected image IMG and page map MAP (a string of d and h) alike.  Each
# OP: w:PAGE:HEX (qemu-io writes the page with bytes HEX), p:PAGE:OFF:LEN
# (qemu-io writes LEN bytes 0xaa at OFF in the page), t:PAGE (trim),
# z:PAGE (NBD_CMD_ZERO), 0:PAGE (a write of a page of zeros); qemu-io's
# ops run first, then nbdsh's, which flushes.
edit ()
{
  local export="$1" img="$2" map="$3" op
  local -a qio=()
  shift 3
  for op in "$@"; do
    IFS=: read -r k page a b <<<"$op"
    case "$k" in
      w) qio+=(-c "write -P 0x$a $((page * P)) $P") ;;
      p) qio+=(-c "write -P 0xaa $((page * P + a)) $b") ;;
    esac
  done
  [ ${#qio[@]} = 0 ] || qemu-io -f raw "${qio[@]}" "$(uri "$export")" \
    >"$tmpdir/qemu-io.out" 2>&1 ||
    fail "qemu-io on $export: $(cat "$tmpdir/qemu-io.out")"
  OPS="$*" nbdsh -u "$(uri "$export")" -c '
import os
P = 1 << 20
for op in os.environ["OPS"].split():
    k, page = op.split(":")[:2]
    page = int(page)
    if k == "t": h.trim(P, page * P)
    if k == "z": h.zero(P, page * P)
    if k == "0": h.pwrite(bytes(P), page * P)
h.flush()
'
  "$NBD_PYTHON" -c '
import sys
P = 1 << 20
img, mapf = sys.argv[1:3]
d = bytearray(open(img, "rb").read())
m = list(open(mapf).read().strip())
for op in sys.argv[3:]:
    k, page, *rest = op.split(":")
    page = int(page)
    if k == "w":
        d[page * P:(page + 1) * P] = bytes([int(rest[0], 16)]) * P
        m[page] = "d"
    elif k == "p":
        off, n = int(rest[0]), int(rest[1])
        d[page * P + off:page * P + off + n] = b"\xaa" * n
        m[page] = "d"
    else:
        d[page * P:(page + 1) * P] = bytes(P)
        m[page] = "h"
open(img, "wb").write(d)
open(mapf, "w").write("".join(m) + "\n")
' "$img" "$map" "$@"
}

# map_of EXPORT: nbdinfo --map as one character per page, d (data) or h
# (hole and zero).
map_of ()
{
  nbdinfo --map --json "$(uri "$1")" >"$tmpdir/map.json"
  "$NBD_PYTHON" -c '
import json, sys
P = 1 << 20
out = ""
for e in json.load(open(sys.argv[1])):
    assert e["offset"] % P == 0 and e["length"] % P == 0, e
    c = {0: "d", 3: "h"}.get(e["type"], "?")
    out += c * (e["length"] // P)
print(out)
' "$tmpdir/map.json"
}

# check EXPORT NAME: EXPORT reads as $tmpdir/NAME.img, byte for byte, and
# its extents are $tmpdir/NAME.map.
check ()
{
  nbdcopy "$(uri "$1")" - | cmp -s - "$tmpdir/$2.img" ||
    fail "export $1 does not read as $2.img"
  [ "$(map_of "$1")" = "$(cat "$tmpdir/$2.map")" ] ||
    fail "extents of $1: $(map_of "$1"), expected $(cat "$tmpdir/$2.map")"
}

# copy_expected FROM TO: TO's expected image and map start as FROM's.
copy_expected ()
{
  cp "$tmpdir/$1.img" "$tmpdir/$2.img"
  cp "$tmpdir/$1.map" "$tmpdir/$2.map"
}

# ---- the base: 12 pages of data, 4 holes; a plain export ----

start_nbds3 size=$((N * P)) page-size=1M
random_file "$tmpdir/gold12" $((12 * P))
nbdcopy --flush - "$(uri gold)" <"$tmpdir/gold12"
{ cat "$tmpdir/gold12"; head -c $((4 * P)) /dev/zero; } >"$tmpdir/gold.img"
echo ddddddddddddhhhh >"$tmpdir/gold.map"
check gold gold
nbdsh -u "$(uri plain)" -c 'h.pwrite(b"x" * 4096, 0); h.flush()'
stop_nbdkit
make_read_only gold

# ---- nbds3 clone: refusals, then two clones ----

refused 1 "no such export" clone nothing c1
refused 1 "not read-only" clone plain c1
refused 2 "not a valid export name" clone gold .c1
# A clone holds its base's guard while it checks the base and creates
# the back-reference, so that a delete of the base (which holds it while
# it looks for clones) cannot slip in between.
if [ "$STORE" = fs ]; then
  flock -x "$data_dir/exports/gold" sh -c '
    "$@" >"$0/tool.out" 2>&1; echo $? >"$0/tool.rc"' "$tmpdir" \
    "$tool_bin" clone gold c0 "${STORE_KEYS[@]}"
  [ "$(cat "$tmpdir/tool.rc")" = 1 ] && grep -qF "guard is held" \
    "$tmpdir/tool.out" ||
    fail "a clone while the base's guard is held: $(cat "$tmpdir/tool.out")"
fi
tool clone gold c1 >"$tmpdir/tool.out" || fail "clone: $(cat "$tmpdir/tool.out")"
grep -q "created clone 'c1' of 'gold'" "$tmpdir/tool.out" ||
  fail "clone said: $(cat "$tmpdir/tool.out")"
tool --json clone gold c2 >"$tmpdir/clone.json"
"$NBD_PYTHON" -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["clone"] == "c2" and j["base"] == "gold", j' "$tmpdir/clone.json"
refused 1 "exists" clone gold c1
refused 1 "exists" clone gold plain
[ "$(names c1)" = "" ] || fail "the clone holds pages already: $(names c1)"
info "nbds3 clone: refusals, and two clones of one base"

# ---- a clone reads as its base; writes land in it alone ----

start_nbds3 size=$((N * P)) page-size=1M
copy_expected gold c1
check c1 gold
check c2 gold
# Writes over base pages, a partial one, over a base hole; a trim, a
# zero and a write of zeros of base pages; a page written then trimmed.
edit c1 "$tmpdir/c1.img" "$tmpdir/c1.map" w:2:55 p:3:1000:100 w:13:66 \
  w:14:77
edit c1 "$tmpdir/c1.img" "$tmpdir/c1.map" t:5 z:6 0:7 t:13
check c1 c1
check gold gold
check c2 gold
[ "$(names c1)" = "page-00000002.bin page-00000003.bin page-00000005.zero \
page-00000006.zero page-00000007.zero page-0000000e.bin " ] ||
  fail "c1 holds: $(names c1)"
info "a clone's writes, trims and zeros change it alone"

# ---- the base is never written or claimed ----

nbdsh -u "$(uri gold)" -c '
assert h.is_read_only(), "the snapshot is served writable"
try:
    h.pwrite(b"x" * 512, 0)
except nbd.Error as e:
    print("write refused:", e)
else:
    raise SystemExit("a write to the read-only export was accepted")
'
if qemu-io -f raw -c 'write -P 0x11 0 4096' "$(uri gold)" \
     >"$tmpdir/qemu-io.out" 2>&1; then
  fail "qemu-io wrote to the read-only export"
fi
# While a writable connection holds it open, nobody holds its guard
# (nbds3 clone took and released it, as a delete of it would).
[ "$STORE" = fs ] || gold_lease="$(lease_of gold)"
hold_client w "$(uri gold)" 'assert h.is_read_only()'
case "$STORE" in
  fs) flock -n -x "$data_dir/exports/gold" true ||
        fail "the read-only export gold is locked" ;;
  s3) [ "$(lease_of gold)" = "$gold_lease" ] ||
        fail "the lease of the read-only export gold changed" ;;
esac
release_client w
check gold gold
info "the read-only base is served read-only, never claimed"

# ---- tombstones are durable ----

restart_nbds3
check c1 c1
check gold gold
check c2 gold
info "after a restart, the clone's tombstoned pages read as zeros"

# ---- a chain of depth 3: gold -> c1 -> d2 -> d3 ----

stop_nbdkit
make_read_only c1
tool clone c1 d2 >/dev/null
start_nbds3 size=$((N * P)) page-size=1M
copy_expected c1 d2
# Over c1's tombstone, c1's page, a page of gold; a hole of every layer.
edit d2 "$tmpdir/d2.img" "$tmpdir/d2.map" w:5:88 w:15:99
edit d2 "$tmpdir/d2.img" "$tmpdir/d2.map" t:2 t:0
stop_nbdkit
make_read_only d2
tool clone d2 d3 >/dev/null
start_nbds3 size=$((N * P)) page-size=1M
copy_expected d2 d3
check d3 d2
edit d3 "$tmpdir/d3.img" "$tmpdir/d3.map" w:0:bb w:2:cc
edit d3 "$tmpdir/d3.img" "$tmpdir/d3.map" t:3 t:5 z:15
check d3 d3
restart_nbds3
check d3 d3
check d2 d2
check c1 c1
check gold gold
check c2 gold
info "extents and bytes are exact over a chain of depth 3"
stop_nbdkit
