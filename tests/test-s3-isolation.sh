#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Exports in one bucket never see each other's pages.  Four exports, one a
# prefix of another ("a", "ab") and two whose names need URI encoding in
# the object keys (and so in the SigV4 canonical request), get different
# data at overlapping offsets; each reads back its own data and zeros
# where only the others wrote, before and after a restart; each one's
# objects, listed and read with boto3, are under exports/<name>/ and hold
# its own bytes; nbdinfo --list shows exactly these four.

STORE=s3
source "$(dirname "$0")/functions.sh"
require_tools nbdinfo

start_nbds3 size=1M page-size=64k cache-size=4M
SOCK="$(nbdkit_sock)"
export SOCK

# name -> first page written (4 pages each, overlapping).
NAMES_PY='
NAMES = {"a": 0, "ab": 2, "sp ace+plus%25~\u00e9": 4, "q?x#y&z=w;*(1)": 6}
P = 65536
import hashlib
def data_of(name):
    # 4 pages of bytes that depend on the name.
    seed = hashlib.sha256(name.encode()).digest()
    out = b""
    while len(out) < 4 * P:
        seed = hashlib.sha256(seed).digest()
        out += seed
    return out[:4 * P]
def connect(name):
    x = nbd.NBD()
    x.set_export_name(name)
    x.connect_unix(os.environ["SOCK"])
    return x
def check_reads():
    for name, first in NAMES.items():
        x = connect(name)
        img = x.pread(16 * P, 0)
        want = bytes(first * P) + data_of(name) + bytes((12 - first) * P)
        if img != want:
            bad = [i for i in range(16)
                   if img[i * P:(i + 1) * P] != want[i * P:(i + 1) * P]]
            raise SystemExit("export %r: pages %s are not its own data "
                             "(or zeros)" % (name, bad))
        x.shutdown()
    print("each export reads back only its own data")
'

s3_nbdsh "$(uri a)" "$NAMES_PY"'
h.shutdown()
for name, first in NAMES.items():
    x = connect(name)
    x.pwrite(data_of(name), first * P)
    x.flush()
    x.shutdown()
check_reads()

# The objects: exactly meta, lease + 4 pages under each prefix, with its
# bytes.
keys = s3_keys()
want = set()
for name, first in NAMES.items():
    want.add("exports/%s/nbds3.meta" % name)
    want.add("exports/%s/nbds3.lease" % name)
    for i in range(4):
        want.add("exports/%s/page-%08x.bin" % (name, first + i))
if set(keys) != want:
    raise SystemExit("objects: extra %s, missing %s" % (
        sorted(set(keys) - want), sorted(want - set(keys))))
for name, first in NAMES.items():
    d = data_of(name)
    for i in range(4):
        k = "exports/%s/page-%08x.bin" % (name, first + i)
        if s3_get(k) != d[i * P:(i + 1) * P]:
            raise SystemExit("object %r does not hold its export data" % k)
print("%d objects, each under its own export prefix" % len(keys))
'

check_names ()
{
  nbdinfo --list --json "nbd+unix:///?socket=$SOCK" >"$tmpdir/list.json"
  "$NBD_PYTHON" -c "
import json, sys
$NAMES_PY
got = sorted(e['export-name'] for e in json.load(open(sys.argv[1]))['exports'])
if got != sorted(NAMES):
    raise SystemExit('nbdinfo --list: %r, expected %r' % (got, sorted(NAMES)))
" "$tmpdir/list.json" || fail "export list differs"
}
check_names

restart_nbds3
check_names
s3_nbdsh "$(uri a)" "$NAMES_PY"'
h.shutdown()
check_reads()
'

info "ok: four exports in one bucket keep to their own pages"
