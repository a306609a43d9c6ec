#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Temporary credentials are renewed while nbds3 serves, with no I/O
# failing and no restart.  radosgw refuses STS durations under 900 s, so
# tests/cred-server.py -- a loopback stand-in for the container
# credentials endpoint, see its header -- hands out real 900-second
# credentials from radosgw's STS while declaring them to expire 20 s
# later: nbds3 renews from min(5 min, half the lifetime) = 10 s before,
# so about every 10 s.
#  1. Four connections write, flush and read back pages for 25 s: every
#     request succeeds, the stand-in's log shows at least two renewals
#     after the first hand-out, and nbds3's debug output says so.
#  2. Through tests/fault-proxy.py, one PUT is answered 400 ExpiredToken:
#     nbds3 renews at once, signs the PUT again, and the flush succeeds.
#  3. The same lie, to every PUT, with static keys (access-key=), which
#     cannot be renewed: the flush fails, the error says ExpiredToken and
#     that these credentials need a restart -- the checks of 2 can
#     fail.

STORE=s3
source "$(dirname "$0")/functions.sh"

s3_creds_setup
start_cred_server cred-server --expires-in 20 --auth-token renewal-test-auth
cred_log="$tmpdir/cred-server.log"
(umask 077 && printf 'renewal-test-auth\n' >"$tmpdir/auth-token")
export AWS_CONTAINER_CREDENTIALS_FULL_URI="$CRED_SERVER/container/creds"
export AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$tmpdir/auth-token"

handouts () { grep -c 'container-creds 200 hand-out' "$cred_log"; }

# ---- 1. A workload across renewals ----
start_nbds3 -Dnbds3.s3=1 "endpoint=$S3_ENDPOINT" page-size=64k connections=4
nbdsh_py "$(uri renew)" '
import os, threading, time, nbd
P = 65536
sock = os.environ["tmpdir"] + "/main.sock"
errors, rounds = [], [0]
def worker(n):
    x = nbd.NBD()
    x.set_export_name("renew")
    x.connect_unix(sock)
    end = time.time() + 25
    i = 0
    try:
        while time.time() < end:
            page = n * 8 + i % 8
            data = os.urandom(P)
            x.pwrite(data, page * P)
            x.flush()
            if x.pread(P, page * P) != data:
                raise Exception("page %d read back differs" % page)
            i += 1
        rounds[0] += i
    except Exception as e:
        errors.append("connection %d: %s" % (n, e))
    x.shutdown()
ts = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
for t in ts: t.start()
for t in ts: t.join()
if errors:
    raise SystemExit("I/O failed: " + "; ".join(errors))
print("%d write-flush-read rounds in 25 s on 4 connections, none failed"
      % rounds[0])
'
n=$(handouts)
[ "$n" -ge 3 ] ||
  fail "the credentials were handed out $n times: no renewal within 25 s"
renewed=$(grep -c 'credentials renewed from container credentials' \
            "$(nbdkit_log main)")
[ "$renewed" -ge 2 ] || fail "nbds3 says it renewed $renewed times"
if grep -E 'nbdkit: error:' "$(nbdkit_log main)" | grep -v 'nbdkit 1.32'; then
  fail "errors in nbdkit's log"
fi
grep -E 'renewed from container' "$(nbdkit_log main)" | tail -n 1
echo "the stand-in handed out credentials $n times; nbds3 renewed $renewed times"
stop_nbdkit main

# ---- 2. ExpiredToken from the server: renewed and signed again ----
rules="$tmpdir/faults.jsonl"
: >"$rules"
python3 "$srcdir/fault-proxy.py" --upstream "$S3_ENDPOINT" --rules "$rules" \
  --port-file "$tmpdir/proxy.port" --max-seconds 300 \
  </dev/null >/dev/null 2>"$tmpdir/fault-proxy.log" &
on_cleanup "kill $! 2>/dev/null"
wait_for 10 test -s "$tmpdir/proxy.port" ||
  fail "the fault proxy did not start: $(cat "$tmpdir/fault-proxy.log")"
proxy="http://127.0.0.1:$(cat "$tmpdir/proxy.port")"
# expire_puts ID TIMES: the next TIMES PUTs of pages are answered
# ExpiredToken.
expire_puts ()
{
  echo '{"fault": "fail-status", "method": "PUT", "path": "page-", "status": 400, "code": "ExpiredToken", "message": "The provided token has expired.", "times": '"$2"', "id": "'"$1"'"}' >"$rules"
}

# write_flush EXPORT: one page written and flushed; prints "ok" or the
# error.
write_flush ()
{
  nbdsh_py "$(uri "$1")" '
import os
P = 65536
data = os.urandom(P)
try:
    h.pwrite(data, 0)
    h.flush()
    assert h.pread(P, 0) == data
    print("ok")
except nbd.Error as e:
    print("error: %s" % e)
'
}

start_nbds3 -Dnbds3.s3=1 "endpoint=$proxy" page-size=64k retry-deadline=10
before=$(handouts)
expire_puts expired 1
[ "$(write_flush expired)" = ok ] || fail "the flush failed after ExpiredToken"
grep -q 'fault expired ' "$tmpdir/fault-proxy.log" ||
  fail "the fault proxy did not answer ExpiredToken"
grep -q 'the server refused the credentials from container credentials' \
  "$(nbdkit_log main)" || fail "nbds3 did not renew after ExpiredToken"
# The PUT itself succeeded, signed again: no error was reported for it
# (a failed background write-back retried by the flush would be).
if grep -E 'error: S3 PUT .*ExpiredToken' "$(nbdkit_log main)"; then
  fail "the PUT that got ExpiredToken failed instead of being signed again"
fi
[ "$(handouts)" -gt "$before" ] || fail "no new credentials after ExpiredToken"
echo "ExpiredToken: renewed, signed again, the flush succeeded"
stop_nbdkit main

# ---- 3. The same with static keys: the flush fails ----
STORE_KEYS=("${S3_STATIC_KEYS[@]}")
start_nbds3 "endpoint=$proxy" page-size=64k retry-deadline=10 \
  shutdown-timeout=2
expire_puts expired-static 1000
out=$(write_flush static)
case $out in
  error:*) ;;
  *) fail "with static keys the flush did not fail after ExpiredToken: $out" ;;
esac
grep -q 'ExpiredToken: .*came from access-key= and secret-key=, which cannot renew them: give new ones and restart nbdkit' "$(nbdkit_log main)" ||
  fail "the ExpiredToken error does not say static credentials need a restart"
grep -q 'fault expired-static ' "$tmpdir/fault-proxy.log" ||
  fail "the fault proxy did not answer ExpiredToken to the static keys"
echo "ExpiredToken with static keys: the flush failed, as it must ($out)"
stop_nbdkit main
