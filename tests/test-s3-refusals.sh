#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The S3 store refuses to start with bad credentials or a bad place: a
# wrong secret (given as a key, through AWS_SECRET_ACCESS_KEY or in a
# shared credentials file), an unknown access key, a missing bucket, a
# closed port, an HTTP server that is not S3 and one that never answers
# make nbdkit exit non-zero within 10 seconds, naming S3's error code or
# the connection error.  The good credentials through the same three
# paths start.  radosgw itself refuses an unsigned request (AccessDenied),
# a wrong signature (SignatureDoesNotMatch) and a body that does not match
# its signed hash, so a green run means our signatures were checked.  No
# secret appears in any nbdkit log, full S3 debug output included.

STORE=s3
source "$(dirname "$0")/functions.sh"
require_tools curl

store_setup
DEBUG=(-v -Dnbds3.s3=1 -Dnbds3.store=1 -Dnbds3.cache=1 -Dnbds3.stats=1)
WRONG_SECRET="wrong-$S3_SECRET_KEY"
TOKEN="nbds3-session-token-$$-must-not-be-logged"
(umask 077 && printf '%s' "$WRONG_SECRET" >"$tmpdir/wrong-secret" &&
   printf '%s' "$TOKEN" >"$tmpdir/token")

# The store keys without the credentials (for the environment and the
# credentials file).
NOCRED_KEYS=()
for k in "${STORE_KEYS[@]}"; do
  case "$k" in access-key=*|secret-key=*) ;; *) NOCRED_KEYS+=("$k") ;; esac
done

# run_nbdkit LOG ENV... -- KEY=VALUE...: start nbdkit (keys after the
# store keys), serving nothing, and record its exit status in $rc and its
# run time in $secs.
run_nbdkit ()
{
  local log="$1" t0 t1
  shift
  local -a env=()
  while [ "$1" != -- ]; do env+=("$1"); shift; done
  shift
  echo "==== nbdkit $*" >>"$tmpdir/$log.log"
  t0="$(date +%s%N)"
  rc=0
  env "${env[@]}" timeout 60 nbdkit -f "${DEBUG[@]}" --log=stderr -U - \
    "$NBDS3_PLUGIN" "$@" --run 'exit 0' >>"$tmpdir/$log.log" 2>&1 || rc=$?
  t1="$(date +%s%N)"
  secs=$(((t1 - t0) / 1000000000))
}

# refused NAME PATTERN ENV... -- KEY=VALUE...: nbdkit must exit non-zero
# within 10 s with an error message matching PATTERN (extended regexp).
failed=()
refused ()
{
  local name="$1" pattern="$2" msg
  shift 2
  run_nbdkit "$name" "$@"
  msg="$(grep -v ': debug: ' "$tmpdir/$name.log" | grep -E -- "$pattern" |
         head -1)" || :
  if [ "$rc" = 0 ]; then
    failed+=("$name: nbdkit started")
  elif [ "$rc" = 124 ]; then
    failed+=("$name: nbdkit hung (killed after 60s)")
  elif [ "$secs" -gt 10 ]; then
    failed+=("$name: nbdkit took ${secs}s to fail (limit 10s)")
  elif [ -z "$msg" ]; then
    grep -v ': debug: ' "$tmpdir/$name.log" | tail -5 >&2
    failed+=("$name: no error matching '$pattern'")
  else
    info "$name: refused in ${secs}s (exit $rc): $msg"
    return 0
  fi
  echo "$test_name: ${failed[-1]}" >&2
}

# accepted NAME ENV... -- KEY=VALUE...: nbdkit must start.
accepted ()
{
  local name="$1"
  shift
  run_nbdkit "$name" "$@"
  if [ "$rc" != 0 ]; then
    grep -v ': debug: ' "$tmpdir/$name.log" | tail -5 >&2
    failed+=("$name: nbdkit did not start (exit $rc)")
    echo "$test_name: ${failed[-1]}" >&2
  else
    info "$name: started"
  fi
}

# A free port with nothing listening on it.
closed_port="$("$NBD_PYTHON" -c '
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

cat >"$tmpdir/credentials" <<EOF
[default]
aws_access_key_id = nobody
aws_secret_access_key = nothing

[nbds3good]
aws_access_key_id = $S3_ACCESS_KEY
aws_secret_access_key = $S3_SECRET_KEY

[nbds3wrong]
aws_access_key_id = $S3_ACCESS_KEY
aws_secret_access_key = $WRONG_SECRET
EOF
chmod 600 "$tmpdir/credentials"
CREDS=(AWS_SHARED_CREDENTIALS_FILE="$tmpdir/credentials")
NOENV=(-u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN
       -u AWS_PROFILE -u AWS_SHARED_CREDENTIALS_FILE
       HOME="$tmpdir/nohome")

# ---- the good credentials through each path start ----

accepted good-keys "${NOENV[@]}" -- "${STORE_KEYS[@]}"
accepted good-env "${NOENV[@]}" AWS_ACCESS_KEY_ID="$S3_ACCESS_KEY" \
  AWS_SECRET_ACCESS_KEY="$S3_SECRET_KEY" -- "${NOCRED_KEYS[@]}"
accepted good-credfile "${NOENV[@]}" "${CREDS[@]}" AWS_PROFILE=nbds3good \
  -- "${NOCRED_KEYS[@]}"

# ---- bad credentials, bucket and endpoints are refused ----

store_keys_with secret-key="+$tmpdir/wrong-secret"
refused wrong-secret SignatureDoesNotMatch "${NOENV[@]}" -- \
  "${STORE_KEYS_WITH[@]}"
refused wrong-secret-env SignatureDoesNotMatch "${NOENV[@]}" \
  AWS_ACCESS_KEY_ID="$S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$WRONG_SECRET" \
  -- "${NOCRED_KEYS[@]}"
refused wrong-secret-credfile SignatureDoesNotMatch "${NOENV[@]}" \
  "${CREDS[@]}" AWS_PROFILE=nbds3wrong -- "${NOCRED_KEYS[@]}"
store_keys_with access-key=NBDS3NOSUCHKEY
refused wrong-access-key InvalidAccessKeyId "${NOENV[@]}" -- \
  "${STORE_KEYS_WITH[@]}"
store_keys_with bucket="no-such-bucket-$$"
refused no-bucket NoSuchBucket "${NOENV[@]}" -- \
  "${STORE_KEYS_WITH[@]}"
store_keys_with endpoint="http://127.0.0.1:$closed_port"
refused closed-port "[Cc]onnect|[Rr]efused" "${NOENV[@]}" -- \
  "${STORE_KEYS_WITH[@]}"

# An HTTP server that is not S3 (404 pages of HTML).
mkdir -p "$tmpdir/www"
not_s3_port="$("$NBD_PYTHON" -c '
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
(cd "$tmpdir/www" &&
   exec "$NBD_PYTHON" -m http.server --bind 127.0.0.1 "$not_s3_port") \
  >"$tmpdir/http.log" 2>&1 &
http_pid=$!
bg_pid $http_pid
wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$not_s3_port/" ||
  fail "python3 -m http.server did not start"
store_keys_with endpoint="http://127.0.0.1:$not_s3_port"
refused not-s3 "404|not an S3|S3" "${NOENV[@]}" -- \
  "${STORE_KEYS_WITH[@]}"
kill $http_pid && wait $http_pid 2>/dev/null || :

# A server that accepts connections and never answers.
"$NBD_PYTHON" -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(64)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
conns = []
while True:
    c, _ = s.accept()
    conns.append(c)            # read nothing, answer nothing
' "$tmpdir/silent.port" >"$tmpdir/silent.log" 2>&1 &
silent_pid=$!
bg_pid $silent_pid
wait_for 10 test -s "$tmpdir/silent.port" || fail "silent server not started"
store_keys_with endpoint="http://127.0.0.1:$(cat "$tmpdir/silent.port")"
refused silent-server "[Tt]ime|[Tt]imeout" "${NOENV[@]}" -- \
  "${STORE_KEYS_WITH[@]}"
kill $silent_pid && wait $silent_pid 2>/dev/null || :

if [ ${#failed[@]} -gt 0 ]; then
  printf '  %s\n' "${failed[@]}" >&2
  fail "${#failed[@]} start-up check(s) failed"
fi

# ---- radosgw checks what we send ----

# Unsigned: AccessDenied.
code="$(curl -s -o "$tmpdir/unsigned.xml" -w '%{http_code}' \
          "$S3_ENDPOINT/$s3_bucket?list-type=2")" || fail "curl failed"
[ "$code" = 403 ] &&
  grep -q '<Code>AccessDenied</Code>' "$tmpdir/unsigned.xml" ||
  fail "unsigned ListObjectsV2: HTTP $code $(cat "$tmpdir/unsigned.xml")"
code="$(curl -s -o "$tmpdir/unsigned-put.xml" -w '%{http_code}' -X PUT \
          --data-binary x "$S3_ENDPOINT/$s3_bucket/exports/x/page-0.bin")"
[ "$code" = 403 ] ||
  fail "unsigned PUT: HTTP $code $(cat "$tmpdir/unsigned-put.xml")"
info "radosgw refuses unsigned requests: AccessDenied"
# Signed by boto3 with a wrong secret; a body that is not the signed one.
s3_python '
import sys
try:
    s3_client(secret="wrong" + os.environ["S3_SECRET_KEY"]).list_objects_v2(
        Bucket=bucket)
    sys.exit("radosgw accepted a wrong secret")
except botocore.exceptions.ClientError as e:
    assert s3_code(e) == "SignatureDoesNotMatch", s3_code(e)
def tamper(request, **kwargs):
    body = request.body
    n = len(body.read() if hasattr(body, "read") else body)
    request.body = b"B" * n
s3.meta.events.register("before-send.s3.PutObject", tamper)
try:
    s3.put_object(Bucket=bucket, Key="tampered", Body=b"A" * 4096)
    sys.exit("radosgw accepted a body that does not match its signed hash")
except botocore.exceptions.ClientError as e:
    assert s3_code(e) == "XAmzContentSHA256Mismatch", s3_code(e)
print("radosgw refuses a wrong secret and a tampered body")
'

# ---- no secret in any log, full debug output included ----

# A real session: write, flush, restart, read back, with every debug flag
# and a session token (radosgw without STS ignores it).
start_nbds3 "${DEBUG[@]:1}" session-token="+$tmpdir/token" size=4M \
  page-size=64k cache-size=4M
nbdsh -u "$(uri sec)" -c 'h.pwrite(b"s" * 200000, 1000); h.flush()'
restart_nbds3
nbdsh -u "$(uri sec)" -c 'assert h.pread(200000, 1000) == b"s" * 200000'
stop_nbdkit

grep -q 'debug: .*PUT' "$(nbdkit_log)" ||
  fail "no S3 debug output (PUT) in the log: the check below would be vacuous"
for s in "$S3_SECRET_KEY" "$WRONG_SECRET" "$TOKEN"; do
  if grep -rlF -- "$s" "$tmpdir"/*.log; then
    grep -rnF -- "$s" "$tmpdir"/*.log | head -3 >&2
    fail "a secret (${s:0:6}...) appears in the nbdkit logs above"
  fi
done
info "no secret or token in $(cat "$tmpdir"/*.log | wc -l) log lines"

info "ok: bad credentials, bucket, endpoints refused in time; no secret logged"
