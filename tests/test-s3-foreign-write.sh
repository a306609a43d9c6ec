#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The 412 rule: a refused condition never leads to writing over a page
# this process did not write.  Two exports (64k pages) each have pages 0
# and 1 stored; while nbdkit has them open, another writer (boto3)
# replaces page 0 of export "fwm" (nbdkit PUTs it with If-Match on the ETag
# it knows) and creates page 2 of export "fwn" (nbdkit believes it absent
# and PUTs it with If-None-Match: *).  nbdkit then writes 512 bytes into
# that page and flushes:
#   - the flush must fail: the PUT gets 412, and the object does not carry
#     this process's writer token;
#   - the other writer's page must be intact in the bucket;
#   - the export is fenced: a later write and flush of page 1 fail too,
#     and page 1's object keeps what was flushed before;
#   - the log names export, page and object.
# Before the rule, the 412 led to a HEAD and a PUT with If-Match on the
# new ETag: the other writer's page was overwritten.

STORE=s3
source "$(dirname "$0")/functions.sh"

start_nbds3 size=4M page-size=64k cache-size=4M

# foreign_write EXPORT PAGE
foreign_write ()
{
  s3_nbdsh "$(uri "$1")" "
P = 65536
N = $2
def key(i):
    return 'exports/$1/page-%08x.bin' % i

h.pwrite(b'A' * 2 * P, 0)
h.flush()
assert s3_get(key(0)) == b'A' * P and s3_get(key(1)) == b'A' * P

# Another writer, behind this server's back.
s3.put_object(Bucket=bucket, Key=key(N), Body=b'F' * P)

h.pwrite(b'x' * 512, N * P)
try:
    h.flush()
    raise SystemExit('the flush succeeded over another writer\'s page')
except nbd.Error as e:
    print('flush over another writer\'s page failed: %s' % e)
assert s3_get(key(N)) == b'F' * P, 'the other writer\'s page overwritten'

# Fenced: page 1, which no one else touched, is not written either.
h.pwrite(b'z' * 512, P)
try:
    h.flush()
    raise SystemExit('a fenced export wrote back page 1')
except nbd.Error as e:
    print('flush of a fenced export failed: %s' % e)
assert s3_get(key(1)) == b'A' * P, 'page 1 written by a fenced export'
" || fail "export $1: the other writer's page $2 was overwritten"
  grep -q "exports/$1/page-0000000$2.bin (export $1, page $2).*changed behind" \
    "$(nbdkit_log)" ||
    fail "the log does not name export $1, page $2 and its object"
  grep -q "Export $1 is fenced" "$(nbdkit_log)" ||
    fail "the log does not say that export $1 is fenced"
}

foreign_write fwm 0
foreign_write fwn 2

info "ok: a 412 never leads to overwriting another writer's page"
