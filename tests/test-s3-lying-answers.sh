#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Lying answers from S3 cannot destroy or corrupt data.  nbds3 talks to
# this test's radosgw through tests/fault-proxy.py, which forwards every
# request unchanged except those its rules pick out; the boto3 client of
# S3_PY talks to radosgw directly and sees the truth.  Three exports (64k
# pages), each restarted with nothing cached before its lie:
#   a. "la": page 0 holds 'A'*64k.  The export's first ListObjectsV2
#      comes back empty (empty-list), so page 0 reads as zeros -- the lie,
#      expected.  A 512-byte write of 'x' into page 0 and a flush: the
#      flush must succeed, and the object (and what nbds3 reads, then and
#      after a restart) is 'A'*64k with its first 512 bytes 'x'.  The
#      protection is the merge: the PUT with If-None-Match: * gets 412, a
#      HEAD finds an object an earlier nbds3 wrote, the store answers
#      EEXIST, and the cache fetches the page and lays the 512 bytes it
#      was written over it, then PUTs it with If-Match.  Before it
#      (50cd121) the export was fenced and the flush failed; before the
#      412 rule (c83b534) the PUT was resent with If-Match on the ETag the
#      HEAD found: zeros and 512 'x' over the stored page.
#   b. "lb": the same with the GET of nbds3.meta answered 404 NoSuchKey
#      (no-such-key), so the export looks new and is not listed at all.
#      Before the first write nbds3 claims the export and reads nbds3.meta
#      again: it exists, so its pages are listed then, and the write
#      fetches page 0 first.  The outcome is that of a: nothing stored is
#      lost, page 0 is 'A'*64k under the 512 'x', and nbds3.meta keeps its
#      content (never rewritten).  c83b534 overwrote page 0 here too.
#   c. "lc": page 1 holds random bytes.  One bit of the GET body of page
#      1 is flipped (flip-bit): the read must fail with EIO, never return
#      the flipped data; then, with the bit flipped once more, a 512-byte
#      write into page 1 and a flush must fail or store exactly the
#      original page with the 512 bytes over it.  The protection is
#      verified pages (7cd2f15: a CRC-32C stored with every page, checked
#      on every read).  Before them (081fb87) the read returned the
#      flipped bit, the page stayed cached, and the write stored it.
# Each time the page reads as it was after a restart without the fault,
# and every rule must have fired (the proxy's fault log).

STORE=s3
source "$(dirname "$0")/functions.sh"

P=65536
s3_start_server rgw

# The proxy in front of radosgw, for nbds3 only: the endpoint= given last
# to start_nbds3 overrides the one of STORE_KEYS (S3_ENDPOINT).  A fenced
# export's dirty page is retried at the stop until shutdown-timeout.
rules="$tmpdir/faults.jsonl"
proxy_log="$tmpdir/fault-proxy.log"
: >"$rules"
python3 "$srcdir/fault-proxy.py" --upstream "$S3_ENDPOINT" --rules "$rules" \
  --port-file "$tmpdir/proxy.port" --log-requests --max-seconds 300 \
  </dev/null >/dev/null 2>"$proxy_log" &
proxy_pid=$!
on_cleanup "kill $proxy_pid 2>/dev/null"
wait_for 10 test -s "$tmpdir/proxy.port" ||
  fail "the fault proxy did not start: $(cat "$proxy_log")"
start_nbds3 size=4M page-size=64k cache-size=4M retry-deadline=5 \
  shutdown-timeout=2 "endpoint=http://127.0.0.1:$(cat "$tmpdir/proxy.port")"
export P

# add_fault ID FAULT METHOD PATH: a rule for the proxy (which reads the
# file on every request): FAULT, once, on METHOD of a target containing
# PATH (decoded).
add_fault ()
{
  printf '{"id": "%s", "fault": "%s", "method": "%s", "path": "%s"}\n' \
    "$@" >>"$rules"
}

# expect_fired ID N: the rule with id ID was applied N times.
expect_fired ()
{
  local n
  n="$(grep -c "^fault-proxy: fault $1 " "$proxy_log" || :)"
  [ "$n" = "$2" ] || fail "rule $1 fired $n times, not $2"
}

# store_page EXPORT PAGE CONTENT: write CONTENT (a Python bytes
# expression) into PAGE of EXPORT, flush, check the object, restart.
store_page ()
{
  s3_nbdsh "$(uri "$1")" "
P = int(os.environ['P'])
data = $3
h.pwrite(data, $2 * P)
h.flush()
assert s3_get('exports/$1/page-%08x.bin' % $2) == data, 'object wrong'
" || fail "export $1: cannot store page $2"
  restart_nbds3
}

# reads_back EXPORT PAGE CONTENT: after a restart without a fault, PAGE
# of EXPORT reads CONTENT, as the object holds it.
reads_back ()
{
  restart_nbds3
  s3_nbdsh "$(uri "$1")" "
P = int(os.environ['P'])
want = $3
assert s3_get('exports/$1/page-%08x.bin' % $2) == want, 'the object changed'
assert h.pread(P, $2 * P) == want, 'the page reads other data'
print('export $1: page $2 reads back as stored')
" || fail "export $1: page $2 does not read back after the fault"
}

# Python for scenarios a and b: page 0, which reads zeros, takes a
# 512-byte write that must be flushed merged into the stored page.
# shellcheck disable=SC2016
LIE_PY='
P = int(os.environ["P"])
export = os.environ["EXPORT"]
key = "exports/%s/page-00000000.bin" % export
meta = s3_get("exports/%s/nbds3.meta" % export)
want = b"x" * 512 + b"A" * (P - 512)
got = h.pread(P, 0)
print("%s: page 0 reads %s" % (export,
      "zeros (the lie)" if got == bytes(P) else "its data"))
h.pwrite(b"x" * 512, 0)
h.flush()
print("%s: the write into page 0 was flushed" % export)
assert s3_get(key) == want, "%s: page 0 in the bucket is not merged" % export
assert h.pread(P, 0) == want, "%s: page 0 reads other data" % export
assert s3_get("exports/%s/nbds3.meta" % export) == meta, \
    "%s: nbds3.meta changed" % export
'

# ---- a. An empty listing ------------------------------------------------

store_page la 0 "b'A' * P"
add_fault a-list empty-list GET prefix=exports/la/
EXPORT=la s3_nbdsh "$(uri la)" "$LIE_PY" ||
  fail "a: a write after an empty listing was not merged into page 0"
expect_fired a-list 1
grep -q "exists although the page index said it was absent" "$(nbdkit_log)" ||
  fail "a: the store did not name the page the listing missed"
reads_back la 0 "b'x' * 512 + b'A' * (P - 512)"

# ---- b. nbds3.meta NoSuchKey --------------------------------------------

store_page lb 0 "b'A' * P"
add_fault b-meta no-such-key GET /exports/lb/nbds3.meta
EXPORT=lb s3_nbdsh "$(uri lb)" "$LIE_PY" ||
  fail "b: a write after a missing nbds3.meta did not keep page 0"
expect_fired b-meta 1
reads_back lb 0 "b'x' * 512 + b'A' * (P - 512)"

# ---- c. A flipped bit ---------------------------------------------------

random_file "$tmpdir/page1" $P
store_page lc 1 "open(os.environ['tmpdir'] + '/page1', 'rb').read()"
add_fault c-read flip-bit GET /exports/lc/page-00000001.bin
s3_nbdsh "$(uri lc)" '
P = int(os.environ["P"])
try:
    h.pread(P, P)
    raise SystemExit("c: page 1 read with a bit flipped in transit")
except nbd.Error as e:
    assert "(EIO)" in str(e), "c: not EIO: %s" % e
    print("c: reading page 1 with a bit flipped failed: %s" % e)
' || fail "c: a flipped bit was served"
expect_fired c-read 1
add_fault c-write flip-bit GET /exports/lc/page-00000001.bin
s3_nbdsh "$(uri lc)" '
P = int(os.environ["P"])
page = open(os.environ["tmpdir"] + "/page1", "rb").read()
try:
    h.pwrite(b"y" * 512, P)
    h.flush()
    page = b"y" * 512 + page[512:]
    print("c: the write into page 1 was flushed")
except nbd.Error as e:
    print("c: the write into page 1 with a bit flipped failed: %s" % e)
open(os.environ["tmpdir"] + "/page1.want", "wb").write(page)
assert s3_get("exports/lc/page-00000001.bin") == page, \
    "c: page 1 in the bucket is not what was written"
' || fail "c: a flipped bit was written back"
expect_fired c-write 1
reads_back lc 1 "open(os.environ['tmpdir'] + '/page1.want', 'rb').read()"

stop_nbdkit
info "ok: an empty listing, a missing nbds3.meta and a flipped bit" \
  "destroy no page"
