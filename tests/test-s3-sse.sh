#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# sse=, sse-kms-key-id= and storage-class= on radosgw for real, and the
# region redirect through the fault proxy.
#   a. Three servers, one export each: sse=AES256; sse=aws:kms with
#      sse-kms-key-id=testkey-1 (radosgw's "testing" KMS backend,
#      tests/s3-server.sh); storage-class=STANDARD_IA (a second class this
#      test's radosgw has, RGW_STORAGE_CLASS).  Each writes a page, flushes,
#      restarts and reads it back.  boto3's HEAD shows the page encrypted
#      with aws:kms and the key (radosgw 16 accepts AES256 and stores
#      it, but reports no SSE-S3 on HEAD, so AES256 is checked through the
#      proxy's request log instead), and the page in STANDARD_IA while
#      nbds3.meta and the lease stay STANDARD.
#   b. The proxy's --log-requests shows the headers only on PUTs: no GET,
#      HEAD, DELETE or listing carries x-amz-server-side-encryption or
#      x-amz-storage-class.  (The proxy logs the header names it sees.)
#   c. Region redirect: with a custom endpoint (the proxy), no region=, the
#      proxy answers the start-up listing with 301 PermanentRedirect and
#      x-amz-bucket-region: eu-west-1 (and an Endpoint host).  nbdkit must
#      fail, naming region eu-west-1, and send nothing more: the redirect
#      is never followed for a custom endpoint (whether it is followed on
#      AWS's own endpoint is check_s3_settings.c's test_redirect).

STORE=s3
export RGW_STORAGE_CLASS=STANDARD_IA
source "$(dirname "$0")/functions.sh"

P=65536
store_setup
rules="$tmpdir/faults.jsonl"
proxy_log="$tmpdir/fault-proxy.log"
: >"$rules"
python3 "$srcdir/fault-proxy.py" --upstream "$S3_ENDPOINT" --rules "$rules" \
  --port-file "$tmpdir/proxy.port" --log-requests --log-headers \
  --max-seconds 300 </dev/null >/dev/null 2>"$proxy_log" &
proxy_pid=$!
on_cleanup "kill $proxy_pid 2>/dev/null"
wait_for 10 test -s "$tmpdir/proxy.port" ||
  fail "the fault proxy did not start: $(cat "$proxy_log")"
proxy="http://127.0.0.1:$(cat "$tmpdir/proxy.port")"
export P

# a. Write, restart, read back, for each setting.
roundtrip ()
{
  local name=$1
  shift
  start_nbds3_as "$name" size=1M page-size=64k cache-size=4M \
    "endpoint=$proxy" "$@"
  nbdsh -u "$(uri "$name" "$name")" -c "h.pwrite(b\"$name\" * ($P // 4), 0)
h.flush()"
  restart_nbds3 "$name"
  nbdsh -u "$(uri "$name" "$name")" -c "
assert h.pread($P, 0) == b\"$name\" * ($P // 4), \"$name: not read back\""
  stop_nbdkit "$name"
}
roundtrip aes2 sse=AES256
roundtrip kms1 sse=aws:kms sse-kms-key-id=testkey-1
roundtrip cold storage-class=STANDARD_IA
s3_python '
def head(k):
    return s3.head_object(Bucket=bucket, Key=k)
h = head("exports/kms1/page-00000000.bin")
assert h.get("ServerSideEncryption") == "aws:kms", h
assert h.get("SSEKMSKeyId") == "testkey-1", h
for leaf in ("nbds3.meta", "nbds3.lease"):
    assert head("exports/kms1/" + leaf).get("ServerSideEncryption") == \
        "aws:kms", leaf
assert head("exports/cold/page-00000000.bin").get("StorageClass") == \
    "STANDARD_IA", "the page is not in STANDARD_IA"
for leaf in ("nbds3.meta", "nbds3.lease"):
    sc = head("exports/cold/" + leaf).get("StorageClass", "STANDARD")
    assert sc == "STANDARD", "%s is in %s" % (leaf, sc)
assert head("exports/aes2/page-00000000.bin").get("ServerSideEncryption") \
    != "aws:kms"
print("SSE-KMS and STANDARD_IA as set; meta and lease STANDARD")
'

# b. Which requests carried the headers.
"$NBD_PYTHON" - "$proxy_log" <<'PY'
import re, sys
want = {"aes2": "x-amz-server-side-encryption",
        "kms1": "x-amz-server-side-encryption-aws-kms-key-id",
        "cold": "x-amz-storage-class"}
seen = {k: 0 for k in want}
for line in open(sys.argv[1]):
    m = re.match(r"fault-proxy: (\w+) (\S+) -> .* headers: (.*)$", line)
    if not m:
        continue
    method, target, names = m.group(1), m.group(2), m.group(3).split(",")
    ours = [n for n in names if n.startswith(("x-amz-server-side",
                                              "x-amz-storage-class"))]
    if ours and (method != "PUT" or "?" in target):
        sys.exit("%s %s carries %s" % (method, target, ours))
    for name, header in want.items():
        if method == "PUT" and "/exports/%s/page-" % name in target:
            if header not in names:
                sys.exit("PUT %s lacks %s" % (target, header))
            seen[name] += 1
        if ("x-amz-storage-class" in names and
                "/page-" not in target):
            sys.exit("PUT %s carries x-amz-storage-class" % target)
assert all(seen.values()), seen
print("SSE and storage class on page PUTs only: %s" % seen)
PY

# c. A 301 PermanentRedirect to eu-west-1 on a custom endpoint.
echo '{"fault": "wrong-region", "region": "eu-west-1", "times": 100}' \
  >"$rules"
before=$(wc -l <"$proxy_log")
keys=()
for k in "${STORE_KEYS[@]}"; do
  case ${k%%=*} in region|endpoint) ;; *) keys+=("$k") ;; esac
done
if nbdkit -f -U "$tmpdir/redirect.sock" "$NBDS3_PLUGIN" "${keys[@]}" \
     "endpoint=$proxy" --run true >"$tmpdir/redirect.log" 2>&1; then
  fail "nbdkit started although S3 said the bucket is in another region"
fi
grep -q "PermanentRedirect.*S3 says bucket $s3_bucket is in region eu-west-1, not us-east-1: set region=eu-west-1 and an endpoint= that serves it" \
  "$tmpdir/redirect.log" || {
  cat "$tmpdir/redirect.log" >&2
  fail "the error does not name the region S3 reported"
}
sent=$(tail -n +"$((before + 1))" "$proxy_log" | grep -c -- ' -> ' || true)
[ "$sent" -eq 1 ] || {
  tail -n +"$((before + 1))" "$proxy_log" >&2
  fail "$sent requests after the redirect, not 1: it was followed"
}
! grep -q "fault-proxy.invalid" "$tmpdir/redirect.log" ||
  fail "the Endpoint host of the answer was used"
info "ok: a redirect on a custom endpoint fails, naming eu-west-1"
