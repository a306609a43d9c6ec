#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Exports exist from their first write: nbdinfo --list shows exports that
# were written to (also through the empty name, i.e. the default export)
# and not names that were only probed, which leave nothing in the store.
# Trim and zero of whole pages make holes that nbdinfo --map reports as
# hole,zero (also after a restart); pages with data show as data.

source "$(dirname "$0")/functions.sh"
require_tools nbdinfo nbdcopy

P=65536
start_nbds3 size=4M page-size=64k cache-size=4M

sock="$(nbdkit_sock)"

# ---- list ----

nbdsh -u "$(uri alpha)" -c 'h.pwrite(b"alpha" * 1000, 12345)'
nbdsh -u "$(uri beta)" -c 'h.pwrite(b"beta", 3 * 65536 - 2); h.flush()'
nbdsh -u "nbd+unix:///?socket=$sock" -c 'h.pwrite(b"dflt", 0)'
# Probes: connect, read, query, but never write.
nbdsh -u "$(uri probe1)" -c '
assert h.get_size() == 4 << 20, h.get_size()
assert h.pread(65536, 0) == bytes(65536)
h.flush()
'
nbdinfo --map "$(uri probe2)" >/dev/null
nbdinfo "$(uri probe3)" >/dev/null

list_names ()
{
  nbdinfo --list --json "nbd+unix:///?socket=$sock" >"$tmpdir/list.json"
  python3 -c '
import json, sys
for e in json.load(open(sys.argv[1]))["exports"]:
    print(e["export-name"])
' "$tmpdir/list.json" | sort
}

# check_list EXPORT...: exactly these exports are listed (sorted).
check_list ()
{
  local names want="$*"
  names="$(list_names | tr '\n' ' ')"
  info "exports listed: $names"
  [ "$names" = "$want " ] ||
    fail "nbdinfo --list shows '$names', expected '$want '"
  # One listing of the store for all the checks (an S3 listing is slow).
  store_list >"$tmpdir/store-list"
  for e in probe1 probe2 probe3 never; do
    if grep -qE "exports/$e(/|\$)" "$tmpdir/store-list"; then
      fail "probed export $e left something in the store"
    fi
  done
  for e in "$@"; do
    grep -qE "exports/$e(/|\$)" "$tmpdir/store-list" ||
      fail "export $e is not in the store"
  done
}
check_list alpha beta default

# ---- map ----

# map_of EXPORT: "offset length type" lines, adjacent extents of one type
# merged, types as nbdinfo prints them (0 data, 3 hole,zero).
map_of ()
{
  nbdinfo --json --map "$(uri "$1")" >"$tmpdir/map.json"
  python3 -c '
import json, sys
out = []
for e in json.load(open(sys.argv[1])):
    if (out and out[-1][2] == e["type"]
            and out[-1][0] + out[-1][1] == e["offset"]):
        out[-1][1] += e["length"]
    else:
        out.append([e["offset"], e["length"], e["type"]])
for o in out:
    print(*o)
' "$tmpdir/map.json"
}

nbdsh -u "$(uri mapped)" -c '
import os
P = 65536
data = os.urandom(8 * P)
open(os.environ["tmpdir"] + "/mapped", "wb").write(data)
h.pwrite(data, 0)
h.flush()
h.trim(2 * P, 2 * P)           # pages 2, 3
h.zero(P, 5 * P)               # page 5
h.zero(100, 7 * P + 100)       # part of page 7: zeros, still data
h.flush()
'
python3 - "$tmpdir/mapped" <<'PY'
import sys
P = 65536
d = bytearray(open(sys.argv[1], "rb").read())
d[2 * P:4 * P] = bytes(2 * P)
d[5 * P:6 * P] = bytes(P)
d[7 * P + 100:7 * P + 200] = bytes(100)
d += bytes(4 * 1024 * 1024 - len(d))
open(sys.argv[1] + ".expect", "wb").write(d)
PY

expect_map="0 $((2 * P)) 0
$((2 * P)) $((2 * P)) 3
$((4 * P)) $P 0
$((5 * P)) $P 3
$((6 * P)) $((2 * P)) 0
$((8 * P)) $((4 * MiB - 8 * P)) 3"

check_map ()
{
  local got
  got="$(map_of mapped)"
  if [ "$got" != "$expect_map" ]; then
    echo "map of 'mapped':"; echo "$got"; echo "expected:"; echo "$expect_map"
    fail "nbdinfo --map does not show the expected holes and data"
  fi
  # A never-written export is one hole.
  got="$(map_of never)"
  [ "$got" = "0 $((4 * MiB)) 3" ] || fail "map of unwritten export: $got"
  nbdcopy "$(uri mapped)" "$tmpdir/mapped.out"
  cmp "$tmpdir/mapped.expect" "$tmpdir/mapped.out" ||
    fail "contents after trim/zero differ"
  rm -f "$tmpdir/mapped.out"
  # Holes are deleted pages.
  local pages
  pages="$(store_pages mapped | tr '\n' ' ')"
  [ "$pages" = "0 1 4 6 7 " ] || fail "pages in the store: '$pages'"
}
check_map

check_list alpha beta default mapped
restart_nbds3
check_list alpha beta default mapped
check_map

info "ok: list shows written exports only; trim/zero make holes"
