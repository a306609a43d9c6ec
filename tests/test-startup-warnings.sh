#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Start-up warnings, each one line, printed once however many clients
# come: a secret (secret-key=, session-token=) given literally on the
# command line, and none for +FILE or the environment, nor for the
# access key id; the nbdkit reset-abort warning exactly when the running
# nbdkit is 1.32.4 to 1.33.9 (decided here from nbdkit --version, so the
# test also holds on a fixed nbdkit).  No S3 server is needed: the
# warnings come from config_complete, before the bucket probe fails.

source "$(dirname "$0")/functions.sh"

# run_nbdkit KEY=VALUE...: nbdkit with these keys, two clients for an FS
# store; the lines other than debug in $tmpdir/run.err.
run_nbdkit ()
{
  timeout 60 nbdkit -f -U - "$NBDS3_PLUGIN" "$@" \
    --run 'nbdsh -u "$uri" -c pass && nbdsh -u "$uri" -c pass' \
    >"$tmpdir/run.log" 2>&1 || :
  grep -v ': debug: ' "$tmpdir/run.log" >"$tmpdir/run.err" || :
}

# count PATTERN: how many lines of $tmpdir/run.err match (fixed string).
count ()
{
  grep -cF -- "$1" "$tmpdir/run.err" || :
}

S3_KEYS=(bucket=b endpoint=http://127.0.0.1:1 retry-deadline=1)
literal="is given literally on the command line"

# ---- secrets ----

run_nbdkit "${S3_KEYS[@]}" access-key=AKID secret-key=s3cr3t-value \
  session-token=t0ken-value
for key in secret-key:AWS_SECRET_ACCESS_KEY session-token:AWS_SESSION_TOKEN; do
  want="${key%%:*}= $literal, so it is visible in ps and in nbdkit -v \
output: use ${key%%:*}=+FILE or the ${key#*:} environment variable"
  [ "$(count "$want")" = 1 ] || {
    cat "$tmpdir/run.err" >&2
    fail "not one warning '$want'"
  }
done
[ "$(count "$literal")" = 2 ] ||
  fail "$(count "$literal") literal-secret warnings, not 2 (access-key= is no secret)"
! grep -qe 's3cr3t-value' -e 't0ken-value' "$tmpdir/run.err" ||
  fail "a secret was printed"

printf 's3cr3t-value' >"$tmpdir/secret"
AWS_SESSION_TOKEN=t0ken-value run_nbdkit "${S3_KEYS[@]}" access-key=AKID \
  secret-key=+"$tmpdir/secret"
[ "$(count "$literal")" = 0 ] || {
  cat "$tmpdir/run.err" >&2
  fail "a secret from +FILE or the environment was warned about"
}

# ---- the nbdkit version ----

version="$(nbdkit --version | head -1 | awk '{print $2}')"
IFS=. read -r major minor micro <<<"$version"
n=$((major * 1000000 + minor * 1000 + micro))
if [ "$n" -ge 1032004 ] && [ "$n" -le 1033009 ]; then want=1; else want=0; fi

run_nbdkit data-dir="$tmpdir/data"
abort="nbdkit $version can abort when a client resets its connection while \
replies are in flight (fixed in nbdkit 1.34 by commit 9d82aa4f, \"server: \
Don't assert on send if client hangs up early\"): upgrade nbdkit, or serve \
with --threads=1 (multi-conn clients keep their parallelism)"
[ "$(count "$abort")" = "$want" ] &&
  [ "$(count "can abort when a client resets")" = "$want" ] || {
  cat "$tmpdir/run.err" >&2
  fail "nbdkit $version: not $want reset-abort warning(s)"
}
[ -d "$tmpdir/data/exports" ] || fail "the FS server did not start"

info "ok: literal secrets warned once each, +FILE not; nbdkit $version:" \
     "$want reset-abort warning"
