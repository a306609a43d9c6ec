#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The core round trip against a second, independent S3 implementation,
# @20minutes/s3rver 5.0.0 (it checks SigV4 signatures): write data across
# pages, flush, stop nbdkit, start it again and read the same bytes back;
# the objects are exports/rt/page-%08x.bin of the page size plus
# nbds3.meta and nbds3.lease; trim deletes objects; a wrong secret is refused at start-up
# with SignatureDoesNotMatch (and s3rver refuses one from boto3 too, so the
# server does check).  Needs Node.js >= 20 and, the first time, the npm
# registry (tests/s3-server.sh runs npm ci in tests/s3rver).

STORE=s3
source "$(dirname "$0")/functions.sh"
require_tools node npm nbdcopy

s3_start_server s3rver
[ "$S3_SERVER" = s3rver ] || fail "the server started is $S3_SERVER"

KEYS=(size=8M page-size=64k cache-size=4M)

# s3rver ignores conditional writes: nbds3 refuses to write to it, and
# says why, unless told to accept the risk.
start_nbds3 "${KEYS[@]}"
if nbdsh -u "$(uri rt)" -c 'h.pwrite(b"x", 0); h.flush()' 2>/dev/null; then
  fail "nbds3 wrote to s3rver, which ignores conditional writes"
fi
grep -q "does not honour conditional writes" "$(nbdkit_log)" ||
  fail "the log does not say that s3rver ignores conditional writes"
[ -z "$(store_list)" ] || fail "objects left after the refused write:
$(store_list)"
stop_nbdkit
KEYS+=(accept-unconditional=true)
start_nbds3 "${KEYS[@]}"

random_file "$tmpdir/in" 3M
cp "$tmpdir/in" "$tmpdir/expect"
truncate -s 8M "$tmpdir/expect"
# Unaligned, not flushed: the clean stop writes it back.
nbdsh -u "$(uri rt)" -c '
import os
d = open(os.environ["tmpdir"] + "/in", "rb").read()
h.pwrite(d[:1000], 0)
h.pwrite(d[1000:], 1000)
'
restart_nbds3
nbdcopy "$(uri rt)" "$tmpdir/out"
cmp "$tmpdir/expect" "$tmpdir/out" || fail "data differs after restart"

s3_python '
P = 65536
keys = s3_keys()
want = {"exports/rt/nbds3.meta", "exports/rt/nbds3.lease"} | {
    "exports/rt/page-%08x.bin" % i for i in range(48)}
if set(keys) != want:
    raise SystemExit("objects: extra %s, missing %s" % (
        sorted(set(keys) - want)[:5], sorted(want - set(keys))[:5]))
bad = [k for k, n in keys.items() if k.endswith(".bin") and n != P]
assert not bad, "objects not of the page size: %s" % bad[:5]
d = open(os.environ["tmpdir"] + "/in", "rb").read()
assert s3_get("exports/rt/page-0000002f.bin") == d[47 * P:48 * P]
print("48 page objects of 64k, nbds3.meta and nbds3.lease")
'

# Trim deletes; the hole survives a restart.
nbdsh -u "$(uri rt)" -c 'h.trim(2 * 65536, 2 * 65536); h.flush()'
restart_nbds3
nbdsh -u "$(uri rt)" -c '
import os
P = 65536
d = open(os.environ["tmpdir"] + "/in", "rb").read()
assert h.pread(P, P) == d[P:2 * P]
assert h.pread(2 * P, 2 * P) == bytes(2 * P)
assert h.pread(P, 4 * P) == d[4 * P:5 * P]
'
[ "$(store_pages rt | head -4 | tr '\n' ' ')" = "0 1 4 5 " ] ||
  fail "pages after trim: $(store_pages rt | head -4 | tr '\n' ' ')"
stop_nbdkit

# A wrong secret: refused by nbdkit's start-up check, within 10 s.
(umask 077 && printf 'wrong%s' "$S3_SECRET_KEY" >"$tmpdir/wrong-secret")
rc=0
t0="$(date +%s)"
store_keys_with secret-key="+$tmpdir/wrong-secret" "${KEYS[@]}"
timeout 60 nbdkit -f -v --log=stderr -U - "$NBDS3_PLUGIN" \
  "${STORE_KEYS_WITH[@]}" --run 'exit 0' \
  >"$tmpdir/wrong.log" 2>&1 || rc=$?
secs=$(($(date +%s) - t0))
[ "$rc" != 0 ] || fail "nbdkit started with a wrong secret on s3rver"
[ "$secs" -le 10 ] || fail "nbdkit took ${secs}s to refuse a wrong secret"
grep -v ': debug: ' "$tmpdir/wrong.log" | grep -q SignatureDoesNotMatch || {
  grep -v ': debug: ' "$tmpdir/wrong.log" | tail -5 >&2
  fail "no SignatureDoesNotMatch in the log of nbdkit with a wrong secret"
}
info "wrong secret: $(grep -v ': debug: ' "$tmpdir/wrong.log" |
                      grep SignatureDoesNotMatch | head -1)"
! grep -qF "$S3_SECRET_KEY" "$tmpdir"/*.log || fail "the secret is in a log"
s3_python '
try:
    s3_client(secret="wrong" + os.environ["S3_SECRET_KEY"]).list_objects_v2(
        Bucket=bucket)
    raise SystemExit("s3rver accepted a wrong secret from boto3")
except botocore.exceptions.ClientError as e:
    assert s3_code(e) == "SignatureDoesNotMatch", s3_code(e)
'

info "ok: round trip on s3rver 5; wrong secret refused"
