#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Errors.  Each bad config value makes nbdkit fail at start-up with a
# non-zero status and exactly one error line, naming the key.  Bad export names are
# refused and leave nothing in the store.  Reopening an export with another
# page size is refused, with another size= warned about.  A second nbdkit
# on the same data-dir cannot open an export the first one holds, and says
# which export.

source "$(dirname "$0")/functions.sh"

store_setup

# bad_config PATTERN KEY=VALUE...: nbdkit must refuse to start, with one
# line other than debug, an error matching PATTERN (extended regexp).  A
# key given here replaces the store's own (store_keys_with).
# Failures are collected in bad_failed, so one run reports all of them.
bad_failed=()
bad_config ()
{
  local pattern="$1" rc=0
  shift
  store_keys_with "$@"
  # (BAD_NOFILE=N: under ulimit -n N.)
  ( [ -z "${BAD_NOFILE:-}" ] || ulimit -n "$BAD_NOFILE"
    exec timeout 60 nbdkit -f -v --log=stderr -U - "$NBDS3_PLUGIN" \
      "${STORE_KEYS_WITH[@]}" --run 'exit 0' ) >"$tmpdir/bad.log" 2>&1 ||
    rc=$?
  if [ "$rc" = 0 ]; then
    echo "$test_name: nbdkit started with bad config: $*" >&2
    bad_failed+=("started: $*")
    return
  fi
  if [ "$rc" = 124 ]; then
    echo "$test_name: nbdkit hung with bad config: $*" >&2
    bad_failed+=("hung: $*")
    return
  fi
  # Only the error lines: not the debug echo of the config keys, nor the
  # start-up warnings (tests/test-startup-warnings.sh), printed when
  # config_complete succeeds, before a mistake found later.
  grep -v -e ': debug: ' -e 'can abort when a client resets its connection' \
    -e 'is given literally on the command line' \
    "$tmpdir/bad.log" >"$tmpdir/bad.err" || :
  if [ "$(wc -l <"$tmpdir/bad.err")" != 1 ]; then
    echo "---- nbdkit output for: $* ----" >&2
    cat "$tmpdir/bad.err" >&2
    echo "$test_name: not exactly one error line for: $*" >&2
    bad_failed+=("not one error line: $*")
    return
  fi
  if ! grep -qE -- "$pattern" "$tmpdir/bad.err"; then
    echo "---- nbdkit output for: $* ----" >&2
    grep -v ': debug: ' "$tmpdir/bad.log" >&2
    echo "$test_name: no error message matching '$pattern' for: $*" >&2
    bad_failed+=("no message matching '$pattern': $*")
    return
  fi
  info "refused ($rc): $* ->" \
       "$(grep -E -- "$pattern" "$tmpdir/bad.err" | head -1)"
}

# A good config starts, so the refusals below are about the bad values.
timeout 60 nbdkit -f -U - "$NBDS3_PLUGIN" "${STORE_KEYS[@]}" \
  size=16M page-size=64k cache-size=4M connections=2 --run 'exit 0' ||
  fail "nbdkit does not start with a good config"
timeout 60 nbdkit -f -U - "$NBDS3_PLUGIN" "${STORE_KEYS[@]}" \
  size=16M page-size=64k cache-size=4M connections=auto \
  inflight-bytes=1M --run 'exit 0' ||
  fail "nbdkit does not start with a good config"

bad_config 'no-such-key'   no-such-key=1
bad_config 'page-size'     page-size=3000
bad_config 'page-size'     page-size=2k
bad_config 'page-size'     page-size=100000
bad_config 'page-size'     page-size=128M
bad_config 'chunk-size|page-size' chunk-size=3000
bad_config '(^|[^-])size'  size=abc
bad_config 'default-size|(^|[^-])size' default-size=abc
bad_config 'cache-size'    cache-size=1M page-size=4M
bad_config 'cache-size'    cache-size=xyz
bad_config 'max-exports'   max-exports=0
bad_config 'max-exports'   max-exports=12x
bad_config 'linger'        linger=-1
BAD_NOFILE=100 bad_config 'max-exports=500 .*ulimit -n\) is 100' max-exports=500
bad_config 'connections'   connections=0
bad_config 'connections'   connections=257
bad_config 'connections'   connections=many
bad_config 'connections=Auto: not a number.*or auto' connections=Auto
bad_config 'inflight-bytes=1k: out of range' inflight-bytes=1k
bad_config 'inflight-bytes=lots: not a size' inflight-bytes=lots
bad_config 'inflight-bytes=65536 is less than one page' \
  inflight-bytes=64k page-size=128k
bad_config 'inflight-bytes=3145728 is too large for cache-size=4194304' \
  inflight-bytes=3M page-size=64k cache-size=4M
bad_config 'cache-size=65536 is too small for page-size=16384' \
  cache-size=64k page-size=16k
bad_config 'inflight-bytes= given twice' inflight-bytes=1M inflight-bytes=1M
# Numbers are decimal digits only; sizes take one of nbdkit's suffixes.
bad_config 'connections=abc: not a number' connections=abc
bad_config 'connections=: not a number' connections=
bad_config 'connections=0x10: not a number' connections=0x10
bad_config 'connections= 5: not a number' 'connections= 5'
bad_config 'connections=5 : not a number' 'connections=5 '
bad_config 'connections=\+5: not a number' connections=+5
bad_config 'connections=-5: not a number' connections=-5
bad_config 'connections=99999999999999999999: out of range' \
  connections=99999999999999999999
bad_config 'cache-wait-timeout=1e3: not a number' cache-wait-timeout=1e3
bad_config 'size=abc: not a size: .*suffix'  size=abc
bad_config 'size=: not a size'      size=
bad_config 'size=1.5M: not a size'  size=1.5M
bad_config 'size=0x10: not a size'  size=0x10
bad_config 'size= 4M: not a size'   'size= 4M'
bad_config 'size=4MB: not a size'   size=4MB
bad_config 'size=-1: not a size'    size=-1
bad_config 'size=8E: out of range'  size=8E
bad_config 'page-size=4e3: not a size' page-size=4e3
# A key given twice, also under its alias, is refused, not the last kept.
bad_config 'size= given twice: give it once' size=16M size=32M
bad_config 'size= given twice' size=16M default-size=32M
bad_config 'page-size= given twice' chunk-size=64k page-size=64k
bad_config 'connections= given twice' connections=2 connections=2
bad_config 'default-export= given twice' default-export=a default-export=b
if [ "$STORE" = fs ]; then
  touch "$tmpdir/regular"
  bad_config 'data-dir' data-dir="$tmpdir/regular/sub"
  bad_config 'data-dir= given twice: give it once' data-dir="$tmpdir/a" \
    data-dir="$tmpdir/b"
  # An S3 key without bucket= is a mistake, not silently ignored.
  bad_config 'region.*bucket' region=us-east-1
  # The store once: the bare argument, store= or data-dir=.
  bad_config 'give the store once' "$tmpdir/other-store"
  bad_config 'store is already' store="$tmpdir/a" store="$tmpdir/b"
  # A boolean is refused before bucket= is missed.
  bad_config 'tls-verify=perhaps: not a boolean' tls-verify=perhaps
fi
if [ "$STORE" = s3 ]; then
  # data-dir= is ignored with bucket=; the S3 keys are checked instead.
  bad_config 'addressing'      addressing=sideways
  bad_config 'payload-signing=maybe: use auto, signed or unsigned' \
    payload-signing=maybe
  bad_config 'tls-verify=perhaps: not a boolean' tls-verify=perhaps
  bad_config 'tls-verify=: not a boolean' tls-verify=
  bad_config 'break-lease= given twice' break-lease=false break-lease=no
  bad_config 'secret-key= given twice' secret-key=+"$tmpdir/s3-secret" \
    secret-key=+"$tmpdir/s3-secret"
  bad_config 'endpoint'        endpoint=ftp://127.0.0.1:21
  bad_config 'ca-file'         ca-file="$tmpdir/no-such-ca.pem"
  bad_config 'bucket'          bucket=a/b
  bad_config 'retry-deadline'  retry-deadline=0
  bad_config 'request-timeout' request-timeout=soon
  bad_config 'connect-timeout' connect-timeout=0
  bad_config 'secret-key=\+.*no-such-secret-file: cannot open' \
    secret-key="+$tmpdir/no-such-secret-file"
fi
if [ ${#bad_failed[@]} -gt 0 ]; then
  printf '  %s\n' "${bad_failed[@]}" >&2
  fail "${#bad_failed[@]} bad config value(s) not refused as expected"
fi

# ---- bad export names ----

start_nbds3 size=16M page-size=64k cache-size=4M
before="$(store_list)"
SOCK="$(nbdkit_sock)"
export SOCK
for name in '../x' '.' '..' 'a/b' '.hidden' "$(printf 'ctl\001x')" \
            "$(head -c 201 /dev/zero | tr '\0' n)"; do
  NAME="$name" nbdsh -c '
import os
h.set_export_name(os.environ["NAME"])
try:
    h.connect_unix(os.environ["SOCK"])
except nbd.Error as e:
    print("refused %r: %s" % (os.environ["NAME"][:20], e))
    raise SystemExit(0)
try:
    h.pwrite(b"x" * 512, 0)
    h.flush()
except nbd.Error:
    pass
raise SystemExit("export name %r was accepted" % os.environ["NAME"])
' || fail "bad export name accepted: '$name'"
done
# A name of exactly 200 bytes is fine.
nbdsh -u "$(uri "$(head -c 200 /dev/zero | tr '\0' n)")" \
  -c 'h.pwrite(b"ok", 0)'
nbdsh -u "$(uri good)" -c 'h.pwrite(b"ok", 0)'
after="$(store_list | grep -v -e '/good' -e '/nnnnnnnn' || :)"
before="$(echo "$before" | grep -v -e '/good' -e '/nnnnnnnn' || :)"
if [ "$before" != "$after" ]; then
  echo "before: $before"; echo "after: $after"
  fail "bad export names left something in the store"
fi
if [ "$STORE" = fs ]; then
  found="$(find "$tmpdir" -name x -o -name b -o -name .hidden -o -name 'ctl*')"
  [ -z "$found" ] || fail "bad export names created: $found"
fi

# ---- reopen with another page size ----

stop_nbdkit
start_nbds3 size=16M page-size=128k cache-size=4M
if nbdsh -u "$(uri good)" -c 'h.pread(2, 0)' 2>"$tmpdir/ps.err"; then
  fail "export 'good' (page-size=64k) opened with page-size=128k"
fi
grep -v ': debug: ' "$(nbdkit_log)" | grep -qiE 'page.?size' ||
  fail "no message about the page size in the nbdkit log"
stop_nbdkit

# ---- reopen with another size= ----

# The recorded size wins; an explicit size= that differs is worth one
# error line per export, the default size none.
start_nbds3 size=32M page-size=64k cache-size=4M
for i in 1 2; do
  nbdsh -u "$(uri good)" -c 'assert h.get_size() == 16 * 1024 * 1024'
done
n="$(grep -v ': debug: ' "$(nbdkit_log)" | grep -c "export 'good' keeps its \
recorded size 16777216; size=33554432 applies only to new exports" || :)"
[ "$n" = 1 ] || fail "$n size= warnings for export 'good', not 1"
stop_nbdkit
: >"$(nbdkit_log)"
start_nbds3 page-size=64k cache-size=4M
nbdsh -u "$(uri good)" -c 'assert h.get_size() == 16 * 1024 * 1024'
! grep -v ': debug: ' "$(nbdkit_log)" | grep -q 'keeps its recorded size' ||
  fail "a size warning without size="
stop_nbdkit

# ---- a second nbdkit on the same store ----

# The FS store holds an flock on an open export's directory, the S3
# store a lease object (tests/test-s3-lease.sh tests it further).

start_nbds3 size=16M page-size=64k cache-size=4M
hold_client holder "$(uri held-export)" '
h.pwrite(b"held" * 1024, 65536)
h.flush()
'
start_nbds3_as second size=16M page-size=64k cache-size=4M
if nbdsh -u "$(uri held-export second)" \
     -c 'h.pwrite(b"intruder", 0); h.flush()' 2>"$tmpdir/second.err"; then
  fail "a second nbdkit opened export 'held-export' held by the first"
fi
grep -v ': debug: ' "$(nbdkit_log second)" | grep -q 'held-export' || {
  grep -v ': debug: ' "$(nbdkit_log second)" | tail -20 >&2
  fail "the second nbdkit's log does not name export 'held-export'"
}
info "second nbdkit: $(grep -v ': debug: ' "$(nbdkit_log second)" |
                        grep 'held-export' | head -1)"
# Other exports still work on the second server.
nbdsh -u "$(uri other second)" -c 'h.pwrite(b"x", 0); h.flush()'
stop_nbdkit second

# The first still serves it and its data is intact.
release_client holder
nbdsh -u "$(uri held-export)" -c '
assert h.pread(4096, 65536) == b"held" * 1024
assert h.pread(8, 0) == bytes(8), "the intruder wrote"
'

# FS: the lock is released when the export's last connection closes with
# nothing dirty.  A second server then writes the export; the first, on
# its next writable connection, takes the lock again and forgets what it
# had cached, so it reads the second's bytes and keeps them.
if [ "$STORE" = fs ]; then
  start_nbds3_as second size=16M page-size=64k cache-size=4M
  nbdsh -u "$(uri held-export second)" \
    -c 'h.pwrite(b"second", 0); h.flush()' ||
    fail "a second nbdkit cannot write export 'held-export' once idle"
  stop_nbdkit second
  nbdsh -u "$(uri held-export)" -c '
assert h.pread(6, 0) == b"second", "the first served a stale cached page"
h.pwrite(b"first!", 6)
h.flush()
' || fail "the first nbdkit does not build on the second's write"
  [ "$(head -c 12 "$data_dir/exports/held-export/page-00000000.bin")" = \
    "secondfirst!" ] || fail "page 0 is not the second's bytes plus the first's"
fi

info "ok: bad config, bad names, page size and second writer refused"
