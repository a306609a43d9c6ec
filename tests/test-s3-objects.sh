#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# S3 store layout, checked with an independent client (boto3): after a
# flush, export "obj" is exactly exports/obj/nbds3.meta (size and page
# size in it) plus one object page-%08x.bin per written page, each of
# exactly the page size and holding that page's bytes; a probe leaves no
# object; trim and zero of whole pages delete their objects; the map after
# a restart shows the same pages.

STORE=s3
source "$(dirname "$0")/functions.sh"
require_tools nbdinfo

P=65536
start_nbds3 size=4M page-size=64k cache-size=4M

# A probe (connect, read, flush) stores nothing.
nbdsh -u "$(uri obj)" -c 'assert h.pread(4096, 0) == bytes(4096); h.flush()'
[ -z "$(s3_objects)" ] || fail "a probe left objects: $(s3_objects)"

# Writes: page 0 whole, part of page 3, across pages 17/18, the very end
# of the export (page 63).  Check every object against the image.
s3_nbdsh "$(uri obj)" '
P = 65536
img = bytearray(64 * P)
def w(data, off):
    h.pwrite(data, off)
    img[off:off + len(data)] = data
w(os.urandom(P), 0)
w(b"three" * 20, 3 * P + 10)
w(os.urandom(100), 18 * P - 50)
w(b"end!" * 25, 64 * P - 100)
h.flush()
want = {"exports/obj/nbds3.meta", "exports/obj/nbds3.lease"} | {
    "exports/obj/page-%08x.bin" % i for i in (0, 3, 17, 18, 63)}
keys = s3_keys()
if set(keys) != want:
    raise SystemExit("objects %s, expected %s" % (sorted(keys), sorted(want)))
for k, size in sorted(keys.items()):
    if not k.endswith(".bin"):
        continue
    i = int(k[-12:-4], 16)
    if size != P:
        raise SystemExit("%s has size %d, not the page size" % (k, size))
    if s3_get(k) != bytes(img[i * P:(i + 1) * P]):
        raise SystemExit("%s does not hold the bytes of page %d" % (k, i))
meta = s3_get("exports/obj/nbds3.meta").decode()
print("nbds3.meta:", meta.replace("\n", " | "))
lines = meta.splitlines()
assert "size=%d" % (4 << 20) in lines, "no size=4194304 in nbds3.meta"
assert "page-size=%d" % P in lines, "no page-size=65536 in nbds3.meta"
print("objects ok:", " ".join(sorted(keys)))
'
s3_objects

# Trim of whole page 3 and zero of whole page 17 delete their objects; a
# zero of part of page 63's data keeps it (with zeros in it).  (Zeros over
# all of its data would make it all zeros, and delete it too.)
s3_nbdsh "$(uri obj)" '
P = 65536
h.trim(P, 3 * P)
h.zero(P, 17 * P)
h.zero(60, 64 * P - 60)
h.flush()
want = {"exports/obj/nbds3.meta", "exports/obj/nbds3.lease"} | {
    "exports/obj/page-%08x.bin" % i for i in (0, 18, 63)}
keys = s3_keys()
if set(keys) != want:
    raise SystemExit("after trim/zero: objects %s, expected %s"
                     % (sorted(keys), sorted(want)))
last = s3_get("exports/obj/page-0000003f.bin")
assert len(last) == P and last[-60:] == bytes(60), "page 63 not zeroed"
assert last[-100:-60] == b"end!" * 10, "page 63 lost its data"
'

# After a restart the page index (from the listing) gives the same map.
restart_nbds3
nbdinfo --map --totals "$(uri obj)"
nbdinfo --json --map "$(uri obj)" >"$tmpdir/map.json"
data="$("$NBD_PYTHON" -c '
import json, sys
P = 65536
pages = set()
for e in json.load(open(sys.argv[1])):
    if e["type"] == 0:
        assert e["offset"] % P == 0 and e["length"] % P == 0, e
        pages.update(range(e["offset"] // P, (e["offset"] + e["length"]) // P))
print(" ".join(map(str, sorted(pages))))
' "$tmpdir/map.json")"
[ "$data" = "0 18 63" ] || fail "data pages after restart: '$data'"
[ "$(store_pages obj | tr '\n' ' ')" = "0 18 63 " ] ||
  fail "store_pages obj: $(store_pages obj | tr '\n' ' ')"

info "ok: exports/obj/ holds nbds3.meta and one page-sized object per page"
