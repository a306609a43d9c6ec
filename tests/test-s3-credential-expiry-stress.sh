#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A real expiry of STS credentials (make check-stress only: it takes 16
# minutes).  tests/cred-server.py, a loopback stand-in for the container
# credentials endpoint, hands out real 900-second credentials from
# radosgw's STS but declares them valid for two hours, so nbds3 does not
# renew them ahead of time and goes on signing with them past their real
# end.  radosgw 16.2 (rgw s3 auth order = local, sts) then answers 403
# InvalidAccessKeyId; nbds3 must take that for an expired session, renew
# and sign again, so the writes, flushes and reads after the expiry
# succeed and the log shows the refusal and the renewal.  (Without that
# rule in s3_error_is_refused_token, the flush after the expiry fails:
# that is how this test fails.)

STORE=s3
source "$(dirname "$0")/functions.sh"

s3_creds_setup
wait_s=${EXPIRY_WAIT:-960}
start_cred_server cred-server --expires-in 7200
export AWS_CONTAINER_CREDENTIALS_FULL_URI="$CRED_SERVER/container/creds"

start_nbds3 -Dnbds3.s3=1 "endpoint=$S3_ENDPOINT" page-size=64k

round ()
{
  nbdsh_py "$(uri expiry)" '
import os
P = 65536
for page in range(4):
    data = os.urandom(P)
    h.pwrite(data, page * P)
    h.flush()
    assert h.pread(P, page * P) == data, "read back differs"
print("4 pages written, flushed and read back")
'
}

round
echo "waiting $wait_s s for the real expiry (900 s) of the credentials"
sleep "$wait_s"
echo "the wait is over: writing again with the expired credentials"
round
log=$(nbdkit_log main)
grep -E 's3: [A-Z]+ .*: 403 [A-Za-z]+' "$log" | head -n 1 || :
grep -q 'the server refused the credentials from container credentials' \
  "$log" || fail "the credentials were not refused: did they not expire?"
grep -q 'credentials renewed from container credentials' "$log" ||
  fail "nbds3 did not renew after the refusal"
if grep -E 'nbdkit: error:' "$log" | grep -v 'nbdkit 1.32\|aborting sleep'
then
  fail "errors in nbdkit's log"
fi
echo "the expired credentials were refused, renewed, and nothing failed"
