#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The credential chain gets real temporary credentials from radosgw's STS
# (tests/s3-server.sh enables it and creates the role $S3_ROLE_ARN) with
# no key on the command line, only a test HOME's ~/.aws/config:
# - profile [process]: a credential_process (tests/sts-assume-role.py)
#   that prints AssumeRole's credentials as the AWS CLI's JSON;
# - profile [role]: role_arn + source_profile [base] (the user's keys):
#   nbds3 calls AssumeRole itself, signed with the base keys.
# Each writes, flushes and reads back 4 pages; an independent client sees
# them in the bucket; the debug output names the source and the
# expiration and holds no secret.  Then the failures: a failing command,
# a role that does not exist, an unsafe container URI, no source at all.

STORE=s3
source "$(dirname "$0")/functions.sh"

s3_creds_setup
role_arn=$S3_ROLE_ARN
STORE_KEYS+=("endpoint=$S3_ENDPOINT")
export STS_PROCESS_LOG="$tmpdir/process.log"
cat > "$HOME/.aws/config" <<EOF
[profile process]
credential_process = $srcdir/sts-assume-role.py
[profile failing]
credential_process = $srcdir/sts-assume-role.py --fail
[profile role]
role_arn = $role_arn
source_profile = base
role_session_name = nbds3-chain-test
duration_seconds = 900
[profile badrole]
role_arn = arn:aws:iam:::role/no-such-role
source_profile = base
[profile base]
aws_access_key_id = $S3_ACCESS_KEY
aws_secret_access_key = $S3_SECRET_KEY
[profile empty]
region = us-east-1
EOF

# write_read PROFILE FIRST: 4 pages from page FIRST, flushed, read back.
write_read ()
{
  local profile=$1 first=$2
  AWS_PROFILE=$profile start_nbds3 -Dnbds3.s3=1 page-size=64k
  nbdsh_py "$(uri "$profile")" "
import os
P = 65536
data = os.urandom(4 * P)
h.pwrite(data, $first * P)
h.flush()
assert h.pread(4 * P, $first * P) == data, 'read back differs'
print('$profile: 4 pages written, flushed and read back')
"
  stop_nbdkit main
  [ "$(store_pages "$profile" | wc -l)" = 4 ] ||
    fail "$profile: the bucket does not hold its 4 pages"
}

write_read process 0
grep -q 'credentials from credential_process of profile \[process\]' \
  "$(nbdkit_log main)" || fail "the debug output does not name the source"
grep -qE 'credentials obtained from credential_process.*expire at 20' \
  "$(nbdkit_log main)" || fail "the debug output does not say the expiry"
grep -q 'credential_process: AssumeRole' "$STS_PROCESS_LOG" ||
  fail "credential_process did not run"

write_read role 4
grep -q 'credentials from role_arn of profile \[role\]' \
  "$(nbdkit_log main)" || fail "the role profile's source is not named"
grep -qE 'obtained from role_arn of profile \[role\]: they expire at .* \(in 9[0-9][0-9] s\)' \
  "$(nbdkit_log main)" || fail "duration_seconds = 900 was not asked for"

# No secret, ever: not the base keys' secret, nor any session token.
if grep -qF "$S3_SECRET_KEY" "$(nbdkit_log main)"; then
  fail "the secret key is in the log"
fi
if grep -qiE 'SessionToken|x-amz-security-token:' "$(nbdkit_log main)"; then
  fail "a session token is in the log"
fi

# start_fails PATTERN [VAR=VALUE...] -- KEY=VALUE...: nbdkit must refuse
# to start, saying PATTERN.
start_fails ()
{
  local pattern=$1 log="$tmpdir/fails.log"
  shift
  local -a vars=()
  while [ "$1" != -- ]; do vars+=("$1"); shift; done
  shift
  if env "${vars[@]}" nbdkit -f -U "$tmpdir/fails.sock" "$NBDS3_PLUGIN" \
       "${STORE_KEYS[@]}" "$@" --run true >"$log" 2>&1; then
    fail "nbdkit started with ${vars[*]} $*"
  fi
  grep -qE "$pattern" "$log" || {
    cat "$log" >&2
    fail "nbdkit did not say: $pattern"
  }
}

start_fails 'credential_process of profile \[failing\] failed: it exited with status 1' \
  AWS_PROFILE=failing --
start_fails 'role_arn of profile \[badrole\]: STS answered 4[0-9][0-9]' \
  AWS_PROFILE=badrole --
start_fails 'AWS_CONTAINER_CREDENTIALS_FULL_URI=http://192.0.2.1/creds: must be https' \
  AWS_PROFILE=empty AWS_CONTAINER_CREDENTIALS_FULL_URI=http://192.0.2.1/creds --
start_fails 'no S3 credentials' AWS_PROFILE=empty --
echo "the failures are reported"
