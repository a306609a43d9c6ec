#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# ListObjectsV2 pagination.  radosgw returns at most 1000 keys per
# listing (checked here with boto3), so the page index an export gets at
# open needs the continuation tokens: 1100 pages of 4k are written, nbdkit is
# restarted, and nbdinfo --map must show all 1100 as data (a page missing
# from the index would be a hole and read as zeros) and the data must read
# back.  Likewise the export list must show all of 1002 exports (the
# export listing is paginated over common prefixes).

STORE=s3
source "$(dirname "$0")/functions.sh"
require_tools nbdcopy nbdinfo

NPAGES=1100
PS=4096
KEYS=(size=8M page-size=4k cache-size=2M)

start_nbds3 "${KEYS[@]}"
SOCK="$(nbdkit_sock)"
export SOCK
random_file "$tmpdir/in" $((NPAGES * PS))
cp "$tmpdir/in" "$tmpdir/expect"
truncate -s 8M "$tmpdir/expect"
nbdcopy "$tmpdir/in" "$(uri many)"
nbdsh -u "$(uri many)" -c 'h.flush()'

# The server paginates: at most 1000 keys (radosgw may send fewer), then
# a continuation token.
s3_python '
r = s3.list_objects_v2(Bucket=bucket, Prefix="exports/many/")
keys = s3_keys("exports/many/")
assert r["IsTruncated"] and r["KeyCount"] < len(keys), (
    "radosgw did not paginate: %s keys, truncated %s"
    % (r["KeyCount"], r["IsTruncated"]))
pages = [k for k in keys if k.endswith(".bin")]
assert len(pages) == 1100, "%d page objects, expected 1100" % len(pages)
print("radosgw lists %d of %d keys in its first answer"
      % (r["KeyCount"], len(keys)))
'

restart_nbds3
nbdinfo --json --map "$(uri many)" >"$tmpdir/map.json"
"$NBD_PYTHON" - "$tmpdir/map.json" $((NPAGES * PS)) <<'PY' ||
import json, sys
end = int(sys.argv[2])
m = [(e["offset"], e["length"], e["type"])
     for e in json.load(open(sys.argv[1]))]
data = [e for e in m if e[2] == 0]
holes = [e for e in m if e[2] == 3]
covered = sum(e[1] for e in data)
bad = [e for e in data if e[0] + e[1] > end] + \
      [e for e in holes if e[0] < end]
if covered != end or bad:
    print("map:", m[:10], "...")
    raise SystemExit("map: %d bytes of data, expected %d; wrong extents %s"
                     % (covered, end, bad[:5]))
print("map: %d pages of data, then a hole" % (covered // 4096))
PY
  fail "after restart nbdinfo --map does not show the 1100 pages as data"
nbdcopy "$(uri many)" "$tmpdir/out"
cmp "$tmpdir/expect" "$tmpdir/out" || fail "1100 pages read back differ"

# 1001 more exports, made with boto3 (copies of the metadata object of
# export "many"; the last one gets a page too); their names through
# NBD_OPT_LIST (nbdinfo --list would open every export).
s3_python '
from concurrent.futures import ThreadPoolExecutor
meta = s3_get("exports/many/nbds3.meta")
def make(i):
    s3.put_object(Bucket=bucket, Key="exports/e%04d/nbds3.meta" % i, Body=meta)
with ThreadPoolExecutor(4) as pool:
    list(pool.map(make, range(1001)))
# e1000 as an export from before checksums (format 1), so that a page
# written without one reads.
s3.put_object(Bucket=bucket, Key="exports/e1000/nbds3.meta",
              Body=meta.replace(b"version=2", b"version=1")
                       .replace(b"checksums=required\n", b""))
s3.put_object(Bucket=bucket, Key="exports/e1000/page-00000001.bin",
              Body=b"p" * 4096)
'
restart_nbds3
n="$(nbdsh -c '
import os
h.set_opt_mode(True)
h.connect_unix(os.environ["SOCK"])
names = []
h.opt_list(lambda name, desc: names.append(name))
h.opt_abort()
want = {"many"} | {"e%04d" % i for i in range(1001)}
missing = want - set(names)
assert not missing, "missing from the list: %s" % sorted(missing)[:5]
assert len(names) == len(want), "%d names listed" % len(names)
print(len(names))
')" || fail "NBD_OPT_LIST does not show all 1002 exports"
nbdsh -u "$(uri e1000)" \
  -c 'assert h.pread(8192, 0) == bytes(4096) + b"p" * 4096'

info "ok: 1100 pages and $n exports found through paginated listings"
