#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A stored page never reads as zeros because the store answers wrongly.
# Export "nz" has pages 0, 10, 20, 30, 40 and 50 stored; nbdkit restarts
# (nothing cached), a client opens the export (the page index comes from
# the listing), and then, behind nbdkit's back (boto3):
#   - page 10's object is deleted (404 NoSuchKey for a page in the index),
#   - page 20's object is replaced by a short one (not page-sized),
#   - a bucket policy denies GetObject of page 30 (403 AccessDenied),
# and reads of those pages must fail with EIO, not return zeros; page 30
# reads its data again once the policy is gone.  Then, on a fresh open,
# the whole bucket is deleted (404 NoSuchBucket): reading page 40 fails.

STORE=s3
source "$(dirname "$0")/functions.sh"

P=65536
start_nbds3 size=4M page-size=64k cache-size=4M
random_file "$tmpdir/pages" $((6 * P))
nbdsh -u "$(uri nz)" -c '
import os
P = 65536
d = open(os.environ["tmpdir"] + "/pages", "rb").read()
for i in range(6):
    h.pwrite(d[i * P:(i + 1) * P], 10 * i * P)
h.flush()
'
[ "$(store_pages nz | tr '\n' ' ')" = "0 10 20 30 40 50 " ] ||
  fail "pages stored: $(store_pages nz | tr '\n' ' ')"
restart_nbds3

s3_nbdsh "$(uri nz)" '
import json
P = 65536
d = open(os.environ["tmpdir"] + "/pages", "rb").read()
def page(i):
    return d[i // 10 * P:(i // 10 + 1) * P]
def key(i):
    return "exports/nz/page-%08x.bin" % i

s3.delete_object(Bucket=bucket, Key=key(10))
s3.put_object(Bucket=bucket, Key=key(20), Body=page(20)[:1000])
s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Deny", "Principal": "*",
                   "Action": "s3:GetObject",
                   "Resource": "arn:aws:s3:::%s/%s" % (bucket, key(30))}]}))

def must_fail(i, why):
    try:
        got = h.pread(P, i * P)
    except nbd.Error as e:
        print("page %d (%s): %s" % (i, why, e))
        return
    raise SystemExit("page %d (%s) read %s instead of failing" % (
        i, why, "ZEROS" if got == bytes(P) else "data"))

must_fail(10, "object deleted: NoSuchKey")
must_fail(20, "object of 1000 bytes")
must_fail(30, "GetObject denied: AccessDenied")
s3.delete_bucket_policy(Bucket=bucket)
assert h.pread(P, 30 * P) == page(30), "page 30 wrong once allowed again"
assert h.pread(P, 0) == page(0), "page 0 wrong"
must_fail(10, "object deleted, again")
print("tampered pages fail with EIO; the others read back")
'
restart_nbds3

# A fresh open of the export, then the bucket disappears.
s3_nbdsh "$(uri nz)" '
P = 65536
for k in s3_keys():
    s3.delete_object(Bucket=bucket, Key=k)
s3.delete_bucket(Bucket=bucket)
try:
    got = h.pread(P, 40 * P)
except nbd.Error as e:
    print("page 40 (bucket deleted: NoSuchBucket): %s" % e)
else:
    raise SystemExit("page 40 read %s with the bucket deleted" % (
        "ZEROS" if got == bytes(P) else "data"))
'
# Each failure was for the reason arranged, and the log says so.
grep -v ': debug: ' "$(nbdkit_log)" >"$tmpdir/errors.log"
for pattern in 'page 10[^0-9].*not in the store|page-0000000a.*NoSuchKey' \
               'page-00000014.*1000 bytes' 'page-0000001e.*AccessDenied' \
               'page-00000028.*NoSuchBucket'; do
  grep -qE "$pattern" "$tmpdir/errors.log" ||
    fail "no error matching '$pattern' in the nbdkit log"
done
# Nothing is dirty: the clean stop needs no bucket.
stop_nbdkit

info "ok: missing, short, forbidden pages and a missing bucket read as EIO"
