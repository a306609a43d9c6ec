#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The credential services that have no real server here -- EC2 instance
# metadata, container credentials, STS AssumeRoleWithWebIdentity -- through
# tests/cred-server.py, a loopback stand-in that speaks their protocols
# and hands out real temporary credentials from radosgw's STS.  With no
# other source, nbds3 writes, flushes and reads back a page with each:
#  - IMDSv2 (AWS_EC2_METADATA_SERVICE_ENDPOINT): the token PUT with its
#    TTL header, then the role and its credentials with the token; the
#    stand-in refuses GETs without the token, like IMDS with IMDSv1 off;
#  - IMDSv1: where the token PUT is refused (403), nbds3 does not start
#    unless imds-v1=true, and then uses token-less GETs;
#  - container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI on
#    loopback) with AWS_CONTAINER_AUTHORIZATION_TOKEN, and with
#    AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE; a wrong token is refused;
#  - web identity (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN, STS at
#    AWS_ENDPOINT_URL_STS); a wrong token is refused.
# AWS_EC2_METADATA_DISABLED=true skips IMDS.

STORE=s3
source "$(dirname "$0")/functions.sh"

s3_creds_setup
STORE_KEYS+=("endpoint=$S3_ENDPOINT")
start_cred_server v2 --auth-token container-test-auth \
  --web-token web-identity-test-token
v2=$CRED_SERVER
start_cred_server v1 --no-token --imds-v1
v1=$CRED_SERVER

# works NAME VAR=VALUE... [-- KEY=VALUE...]: nbds3 started with the
# variables gets credentials, writes, flushes and reads back a page.
works ()
{
  local name=$1
  shift
  local -a vars=() keys=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do vars+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  keys=("$@")
  ( export "${vars[@]}"
    start_nbds3 -Dnbds3.s3=1 page-size=64k ${keys[@]+"${keys[@]}"}
    nbdsh_py "$(uri "$name")" '
import os
data = os.urandom(65536)
h.pwrite(data, 0)
h.flush()
assert h.pread(65536, 0) == data, "read back differs"
'
    stop_nbdkit main ) || fail "$name: nbds3 did not work with ${vars[*]}"
  grep -E 'credentials obtained from .* expire at' "$(nbdkit_log main)" |
    tail -n 1 | sed "s/^.*debug: /$name: /"
}

# refused PATTERN VAR=VALUE... [-- KEY=VALUE...]: nbds3 does not start,
# saying PATTERN.
refused ()
{
  local pattern=$1 log="$tmpdir/refused.log"
  shift
  local -a vars=() keys=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do vars+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  keys=("$@")
  if env "${vars[@]}" nbdkit -f -U "$tmpdir/refused.sock" "$NBDS3_PLUGIN" \
       "${STORE_KEYS[@]}" ${keys[@]+"${keys[@]}"} --run true >"$log" 2>&1
  then
    fail "nbds3 started with ${vars[*]} ${keys[*]}"
  fi
  grep -qE "$pattern" "$log" || { cat "$log" >&2; fail "no error: $pattern"; }
  echo "refused, as it must: $(grep -E "$pattern" "$log" | head -n 1)"
}

# ---- IMDSv2 ----
on=AWS_EC2_METADATA_DISABLED=false
works imdsv2 $on "AWS_EC2_METADATA_SERVICE_ENDPOINT=$v2"
grep -q 'imds-token 200 ttl [0-9]' "$tmpdir/v2.log" ||
  fail "no IMDSv2 token PUT with a TTL"
grep -q 'imds-v2-role 200' "$tmpdir/v2.log" &&
  grep -q 'imds-v2-creds 200 hand-out' "$tmpdir/v2.log" ||
  fail "the role's credentials were not fetched with the token"
if grep -q 'imds-v1' "$tmpdir/v2.log"; then
  fail "nbds3 sent an IMDS GET without the session token"
fi
# The stand-in is strict, like IMDS with IMDSv1 disabled.
[ "$(curl -s -o /dev/null -w '%{http_code}' \
      "$v2/latest/meta-data/iam/security-credentials/")" = 401 ] ||
  fail "the stand-in answers a GET without the token"
refused 'the IMDSv2 session token PUT .* answered 403: nbds3 uses IMDSv1 only with imds-v1=true' \
  $on "AWS_EC2_METADATA_SERVICE_ENDPOINT=$v1"
works imdsv1 $on "AWS_EC2_METADATA_SERVICE_ENDPOINT=$v1" -- imds-v1=true
grep -q 'imds-v1-creds 200 hand-out' "$tmpdir/v1.log" ||
  fail "imds-v1=true did not fetch the credentials with IMDSv1"
lines=$(wc -l <"$tmpdir/v2.log")
refused 'no S3 credentials: .*credential_process \(~/.aws/credentials, ~/.aws/config\); the man' \
  AWS_EC2_METADATA_DISABLED=true "AWS_EC2_METADATA_SERVICE_ENDPOINT=$v2"
[ "$(wc -l <"$tmpdir/v2.log")" = "$lines" ] ||
  fail "AWS_EC2_METADATA_DISABLED=true did not keep nbds3 from IMDS"

# ---- Container credentials ----
full="AWS_CONTAINER_CREDENTIALS_FULL_URI=$v2/container/creds"
works container "$full" AWS_CONTAINER_AUTHORIZATION_TOKEN=container-test-auth
(umask 077 && printf 'container-test-auth\n' >"$tmpdir/auth-file")
works container-file "$full" \
  "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=$tmpdir/auth-file"
[ "$(grep -c 'container-creds 200 hand-out' "$tmpdir/v2.log")" = 2 ] ||
  fail "the container credentials were not fetched twice"
refused 'container credentials at .*: GET .* answered 401' "$full" \
  AWS_CONTAINER_AUTHORIZATION_TOKEN=wrong

# ---- Web identity ----
printf 'web-identity-test-token\n' >"$tmpdir/web-token"
printf 'wrong-token\n' >"$tmpdir/wrong-token"
works web-identity "AWS_WEB_IDENTITY_TOKEN_FILE=$tmpdir/web-token" \
  "AWS_ROLE_ARN=$S3_ROLE_ARN" "AWS_ENDPOINT_URL_STS=$v2/sts" \
  AWS_ROLE_SESSION_NAME=nbds3-web-test
grep -q 'sts-web-identity 200 hand-out' "$tmpdir/v2.log" ||
  fail "no AssumeRoleWithWebIdentity reached the stand-in"
refused 'web identity .*: STS answered 400 InvalidIdentityToken' \
  "AWS_WEB_IDENTITY_TOKEN_FILE=$tmpdir/wrong-token" \
  "AWS_ROLE_ARN=$S3_ROLE_ARN" "AWS_ENDPOINT_URL_STS=$v2/sts"
