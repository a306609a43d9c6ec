# SPDX-License-Identifier: MIT
#
# functions.sh: the shared harness of nbds3's shell integration tests.
# Each tests/test-*.sh sources this file.  It owns the test's temporary
# directory, every process the test starts (nbdkit instances, background
# clients, FUSE mounts, loop devices) and the cleanup trap that stops them,
# so a test that fails at any point leaves nothing behind.
#
# nbdkit runs in the foreground (-f -v --log=stderr) under `setsid -f`, on
# a private unix socket, logging to $tmpdir/NAME.log; readiness is the pid
# file (-P) plus the socket; its exit status lands in $tmpdir/NAME.rc.
# Several named instances may run at once (default name: main).
#
# The store is chosen by STORE (fs by default, or s3).  Tests never name a
# store: they call start_nbds3 / restart_nbds3 and the store_* helpers, so
# an S3 variant is just a wrapper that sets STORE=s3 and execs the test.
#
# Environment:
#   NBDS3_PLUGIN   the built plugin (Makefile exports
#                  $(abs_top_builddir)/plugin/.libs/nbds3.so)
#   STORE          fs (default) or s3
#   KEEP_TMP=1     keep the temporary directory (for debugging)
#   NBDS3_VALGRIND=1
#                  run every nbdkit that start_nbdkit starts under valgrind
#                  (make check-valgrind sets it, and NBDS3_PLUGIN to the
#                  -z nodelete build); an error or a definitely lost block
#                  in its report fails the test (see _valgrind_check)
#   S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION
#                  STORE=s3 only: use this server instead of starting one

set -e
set -o pipefail

# ---- Basics -------------------------------------------------------------

test_name="$(basename "$0" .sh)"
srcdir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STORE="${STORE:-fs}"
: "${NBDS3_PLUGIN:=$srcdir/../plugin/.libs/nbds3.so}"

NBDS3_VALGRIND="${NBDS3_VALGRIND:-0}"
# valgrind's start-up and exit (the leak check) take seconds, not
# milliseconds.
_slow=1
[ "$NBDS3_VALGRIND" = 1 ] && _slow=4
# How long to wait for things that should be quick.
START_TIMEOUT="${START_TIMEOUT:-$((30 * _slow))}"
# nbdkit's final write-back is bounded by shutdown-timeout (60s default).
STOP_TIMEOUT="${STOP_TIMEOUT:-$((90 * _slow))}"

# shellcheck disable=SC2034 # for the tests
MiB=$((1024 * 1024))

fail ()
{
  echo "$test_name: FAIL: $*" >&2
  exit 1
}

info ()
{
  echo "$test_name: $*"
}

# require_tools TOOL...: a missing tool is a failure, never a skip.
require_tools ()
{
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 ||
      fail "required tool '$t' is not installed (see quickstart.sh)"
  done
}

# ---- Temporary directory and cleanup ------------------------------------

tmpdir="$(mktemp -d "${TMPDIR:-/tmp}/nbds3-$test_name.XXXXXX")"
export tmpdir

_nbdkit_instances=()   # names of instances started (see start_nbdkit)
_bg_pids=()            # background clients to kill at cleanup
_cleanup_hooks=()      # extra commands, run last-registered first

# on_cleanup CMD...: run CMD (via eval) at exit, before nbdkit is stopped.
on_cleanup ()
{
  _cleanup_hooks+=("$*")
}

_cleanup ()
{
  local rc=$? i name pid
  set +e
  trap - EXIT INT TERM

  for ((i = ${#_cleanup_hooks[@]} - 1; i >= 0; i--)); do
    eval "${_cleanup_hooks[i]}"
  done
  for pid in "${_bg_pids[@]}"; do
    kill -KILL "$pid" 2>/dev/null
  done
  for name in "${_nbdkit_instances[@]}"; do
    if nbdkit_running "$name"; then
      _stop_pid "$(cat "$tmpdir/$name.pid")" $((10 * _slow)) >/dev/null 2>&1
    fi
    # The wrapper writes the exit status after nbdkit has gone.
    if [ -e "$tmpdir/$name.log" ]; then
      wait_for 5 test -f "$tmpdir/$name.rc"
    fi
  done
  if [ "$NBDS3_VALGRIND" = 1 ] && ! _valgrind_check && [ "$rc" -eq 0 ]; then
    echo "$test_name: FAIL: valgrind found errors or leaks" >&2
    rc=1
  fi

  # (Once every nbdkit has stopped; kept with KEEP_TMP=1.)
  if [ -n "${_s3_shared_bucket:-}" ] && [ "${KEEP_TMP:-0}" != 1 ]; then
    _s3_client rmbucket "$_s3_shared_bucket" >/dev/null 2>&1
  fi

  if [ "$rc" -ne 0 ]; then
    echo "$test_name: failed (exit $rc) with STORE=$STORE" >&2
    for name in "${_nbdkit_instances[@]}"; do
      [ -f "$tmpdir/$name.log" ] || continue
      echo "---- nbdkit '$name': last messages other than debug ----" >&2
      grep -v ': debug: ' "$tmpdir/$name.log" | tail -n 20 >&2
      echo "---- nbdkit '$name': last 30 lines of the log ----" >&2
      tail -n 30 "$tmpdir/$name.log" >&2
    done
  fi
  if [ "${KEEP_TMP:-0}" = 1 ]; then
    echo "$test_name: keeping $tmpdir" >&2
  else
    rm -rf "$tmpdir"
  fi
  exit "$rc"
}
trap _cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# bg_pid PID: kill PID (a client started with &) at cleanup.
bg_pid ()
{
  _bg_pids+=("$1")
}

# ---- Python with libnbd -------------------------------------------------

# nbdsh runs "python3 -mnbd" from $PATH; a python3 without the nbd module
# (pyenv, a virtualenv) ahead of the system one breaks it.  Find one that
# has it and put it first, in a private bin directory.
_setup_python ()
{
  local p
  for p in python3 /usr/bin/python3 /bin/python3; do
    if command -v "$p" >/dev/null 2>&1 &&
       "$p" -c 'import nbd' >/dev/null 2>&1; then
      NBD_PYTHON="$(command -v "$p")"
      mkdir -p "$tmpdir/bin"
      ln -sf "$NBD_PYTHON" "$tmpdir/bin/python3"
      PATH="$tmpdir/bin:$PATH"
      export PATH NBD_PYTHON
      return 0
    fi
  done
  fail "no python3 with the libnbd bindings (Debian: python3-libnbd)"
}

require_tools nbdkit nbdsh setsid timeout sha256sum cmp
_setup_python

[ -f "$NBDS3_PLUGIN" ] || fail "plugin not built: $NBDS3_PLUGIN"

# ---- Waiting ------------------------------------------------------------

# wait_for SECONDS CMD...: poll CMD every 0.1s until it succeeds.
wait_for ()
{
  local secs="$1" i
  shift
  for ((i = 0; i < secs * 10; i++)); do
    if "$@"; then return 0; fi
    sleep 0.1
  done
  return 1
}

_pid_alive ()
{
  kill -0 "$1" 2>/dev/null
}

_pid_gone ()
{
  ! kill -0 "$1" 2>/dev/null
}

# _stop_pid PID TIMEOUT: SIGTERM, wait, then SIGKILL.  Returns 1 if it
# had to use SIGKILL.
_stop_pid ()
{
  local pid="$1" secs="$2"
  kill -TERM "$pid" 2>/dev/null || return 0
  wait_for "$secs" _pid_gone "$pid" && return 0
  echo "$test_name: pid $pid did not exit ${secs}s after SIGTERM;" \
       "sending SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null
  wait_for 10 _pid_gone "$pid"
  return 1
}

# ---- valgrind (NBDS3_VALGRIND=1) ----------------------------------------

# Each nbdkit run writes its report to $tmpdir/NAME.vg.PID.  Leaks: only
# "definitely lost" blocks count (nbdkit exits with threads and caches
# still holding memory); library frames are suppressed by valgrind.supp,
# plugin frames never.  --fair-sched: the plugin's threads hand work to
# each other through condition variables, which valgrind's default
# scheduler can starve.
VALGRIND=(valgrind --leak-check=full --show-leak-kinds=definite
          --errors-for-leak-kinds=definite --error-exitcode=99
          --num-callers=24 --fair-sched=yes
          --suppressions="$srcdir/valgrind.supp")
if [ "$NBDS3_VALGRIND" = 1 ]; then
  require_tools valgrind readelf
  readelf -d "$NBDS3_PLUGIN" | grep -q 'Flags:.*NODELETE' ||
    fail "NBDS3_VALGRIND=1 needs the -z nodelete build of the plugin" \
         "(plugin/.libs/nbds3-valgrind.so), not $NBDS3_PLUGIN"
fi

# _valgrind_check: print and count the reports with errors or definitely
# lost bytes.  A report without a summary is from a run that was killed
# (kill -9 tests): nothing to check.
_valgrind_check ()
{
  local f bad=0
  for f in "$tmpdir"/*.vg.*; do
    [ -e "$f" ] || continue
    grep -q 'ERROR SUMMARY:' "$f" || continue
    if ! grep -q 'ERROR SUMMARY: 0 errors' "$f" ||
       grep -q 'definitely lost: [1-9]' "$f"; then
      echo "---- valgrind: errors in ${f##*/} ----" >&2
      cat "$f" >&2
      bad=$((bad + 1))
    fi
  done
  return "$bad"
}

# ---- nbdkit instances ---------------------------------------------------

# start_nbdkit NAME NBDKIT-ARGS...: start nbdkit in the foreground under
# setsid on $tmpdir/NAME.sock and wait until it serves.  The arguments are
# the plugin and its keys (and any nbdkit options, e.g. -D flags).  With
# NBDKIT_PORT=PORT in its environment it listens on 127.0.0.1:PORT
# instead (see free_port, tcp_uri): for what only TCP does, a reset.
start_nbdkit ()
{
  local name="$1"
  shift
  local sock="$tmpdir/$name.sock" pidfile="$tmpdir/$name.pid"
  local log="$tmpdir/$name.log" rcfile="$tmpdir/$name.rc"
  local -a vg=()
  [ "$NBDS3_VALGRIND" = 1 ] &&
    vg=("${VALGRIND[@]}" --log-file="$tmpdir/$name.vg.%p")

  if nbdkit_running "$name"; then
    fail "nbdkit '$name' is already running"
  fi
  local -a listen=(-U "$sock")
  rm -f "$sock" "$pidfile" "$rcfile" "$tmpdir/$name.port"
  if [ -n "${NBDKIT_PORT:-}" ]; then
    listen=(-i 127.0.0.1 -p "$NBDKIT_PORT")
    echo "$NBDKIT_PORT" >"$tmpdir/$name.port"
  fi
  case " ${_nbdkit_instances[*]} " in
    *" $name "*) ;;
    *) _nbdkit_instances+=("$name") ;;
  esac

  echo "==== $(date +%T) nbdkit $*" >>"$log"
  # setsid -f: nbdkit must not die with this shell's process group.  The
  # small sh wrapper records nbdkit's exit status ($0 is the log file).
  setsid -f sh -c '
    "$@" </dev/null >>"$0" 2>&1
    echo $? >"$0.rc.tmp"
    mv "$0.rc.tmp" "${0%.log}.rc"' \
    "$log" ${vg[@]+"${vg[@]}"} nbdkit -f -v --log=stderr "${listen[@]}" -P "$pidfile" "$@"

  wait_for "$START_TIMEOUT" _nbdkit_ready "$name" ||
    fail "nbdkit '$name' was not ready within ${START_TIMEOUT}s"
  if [ -f "$rcfile" ]; then
    grep -v ': debug: ' "$log" | tail -n 5 >&2
    fail "nbdkit '$name' exited with status $(cat "$rcfile") at start-up"
  fi
}

_nbdkit_ready ()
{
  local name="$1"
  # Exited already: stop waiting (start_nbdkit reports it).
  [ -f "$tmpdir/$name.rc" ] && return 0
  # (nbdkit writes its pid file once it listens.)
  [ -s "$tmpdir/$name.pid" ] &&
    { [ -S "$tmpdir/$name.sock" ] || [ -s "$tmpdir/$name.port" ]; } &&
    _pid_alive "$(cat "$tmpdir/$name.pid")"
}

# nbdkit_pid [NAME]
nbdkit_pid ()
{
  cat "$tmpdir/${1:-main}.pid"
}

# nbdkit_running [NAME]
nbdkit_running ()
{
  local pidfile="$tmpdir/${1:-main}.pid"
  [ -s "$pidfile" ] && _pid_alive "$(cat "$pidfile")" &&
    [ ! -f "$tmpdir/${1:-main}.rc" ]
}

# nbdkit_log [NAME]: path of the log file.
nbdkit_log ()
{
  echo "$tmpdir/${1:-main}.log"
}

# nbdkit_sock [NAME]
nbdkit_sock ()
{
  echo "$tmpdir/${1:-main}.sock"
}

# nbdkit_exit_status [NAME]: wait (bounded) for the wrapper to record the
# exit status, then print it.
nbdkit_exit_status ()
{
  local rcfile="$tmpdir/${1:-main}.rc"
  wait_for 10 test -f "$rcfile" || fail "no exit status for nbdkit '${1:-main}'"
  cat "$rcfile"
}

# stop_nbdkit [NAME]: SIGTERM, wait up to STOP_TIMEOUT for the pid to
# vanish, then SIGKILL.  A stop that needs SIGKILL, or a non-zero exit
# status, fails the test.  Disconnect clients first.
stop_nbdkit ()
{
  local name="${1:-main}" pid rc
  nbdkit_running "$name" || fail "nbdkit '$name' is not running"
  pid="$(nbdkit_pid "$name")"
  _stop_pid "$pid" "$STOP_TIMEOUT" ||
    fail "nbdkit '$name' needed SIGKILL to stop"
  rc="$(nbdkit_exit_status "$name")"
  [ "$rc" = 0 ] || fail "nbdkit '$name' exited with status $rc after SIGTERM"
  rm -f "$tmpdir/$name.pid"
}

# signal_nbdkit SIGNAL [NAME]: send SIGNAL, do not wait.
signal_nbdkit ()
{
  kill -"$1" "$(nbdkit_pid "${2:-main}")"
}

# wait_nbdkit_exit [NAME]: after signal_nbdkit TERM, wait up to
# STOP_TIMEOUT for nbdkit to exit; it must exit with status 0.
wait_nbdkit_exit ()
{
  local name="${1:-main}" pid rc
  pid="$(nbdkit_pid "$name")"
  wait_for "$STOP_TIMEOUT" _pid_gone "$pid" ||
    fail "nbdkit '$name' did not exit within ${STOP_TIMEOUT}s"
  rc="$(nbdkit_exit_status "$name")"
  [ "$rc" = 0 ] || fail "nbdkit '$name' exited with status $rc"
  rm -f "$tmpdir/$name.pid"
}

# kill9_nbdkit [NAME]: crash it.
kill9_nbdkit ()
{
  local name="${1:-main}" pid
  pid="$(nbdkit_pid "$name")"
  kill -KILL "$pid"
  wait_for 10 _pid_gone "$pid" || fail "nbdkit '$name' survived SIGKILL"
  nbdkit_exit_status "$name" >/dev/null
  rm -f "$tmpdir/$name.pid"
}

# uri EXPORT [NAME]: NBD URI of EXPORT on instance NAME.
uri ()
{
  echo "nbd+unix:///$1?socket=$tmpdir/${2:-main}.sock"
}

# tcp_uri EXPORT [NAME]: NBD URI of EXPORT on instance NAME started with
# NBDKIT_PORT.
tcp_uri ()
{
  echo "nbd://127.0.0.1:$(cat "$tmpdir/${2:-main}.port")/$1"
}

# free_port: a loopback TCP port that was free a moment ago.
free_port ()
{
  "$NBD_PYTHON" -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# ---- The store ----------------------------------------------------------

# store_setup: prepare the store once per test (idempotent).  Sets
# STORE_KEYS, the plugin keys that select it, and TAKEOVER_KEYS, the keys
# with which a server started after a crash (kill -9) of the last one
# takes its exports at once (S3: break-lease=true, as an operator who
# knows the holder is gone would; FS: none, its flock died with it).
STORE_KEYS=()
TAKEOVER_KEYS=()
_store_ready=0
store_setup ()
{
  [ "$_store_ready" = 1 ] && return 0
  case "$STORE" in
    fs)
      data_dir="$tmpdir/data"
      STORE_KEYS=("data-dir=$data_dir")
      ;;
    s3)
      _s3_setup
      TAKEOVER_KEYS=(break-lease=true)
      ;;
    *)
      fail "unknown STORE='$STORE' (fs or s3)"
      ;;
  esac
  _store_ready=1
}

# store_keys_with KEY=VALUE...: into the array STORE_KEYS_WITH, the keys
# of STORE_KEYS whose KEY is not given here, then those given here: a
# test's endpoint= or secret-key= replaces the store's own (nbds3 refuses
# a key given twice).  Keys given twice here stay twice.
store_keys_with ()
{
  local k o
  STORE_KEYS_WITH=()
  for k in "${STORE_KEYS[@]}"; do
    for o in "$@"; do
      [ "${k%%=*}" = "${o%%=*}" ] && continue 2
    done
    STORE_KEYS_WITH+=("$k")
  done
  STORE_KEYS_WITH+=("$@")
}

# STORE=s3: a radosgw from tests/s3-server.sh (or the server named by
# S3_ENDPOINT etc., e.g. one shared by a whole `make check` run) and a
# fresh bucket for this test, which survives restarts within the test.
_s3_setup ()
{
  [ -n "${S3_ENDPOINT:-}" ] || s3_start_server rgw
  export S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY
  export S3_REGION="${S3_REGION:-us-east-1}"
  s3_bucket="t-$(echo "${test_name#test-}" | tr -c 'a-z0-9\n' '-')-$$"
  _s3_client mkbucket "$s3_bucket" >/dev/null ||
    fail "could not create bucket $s3_bucket at $S3_ENDPOINT"
  # On a server shared by a whole run, _cleanup deletes the bucket, to
  # leave room for the next tests (memstore holds everything in memory).
  [ -n "${s3_dir:-}" ] || _s3_shared_bucket="$s3_bucket"
  # The secret through nbdkit's password syntax, so it is in no log.
  (umask 077 && printf '%s' "$S3_SECRET_KEY" >"$tmpdir/s3-secret")
  STORE_KEYS=("bucket=$s3_bucket" "endpoint=$S3_ENDPOINT"
              "region=$S3_REGION"
              "access-key=$S3_ACCESS_KEY" "secret-key=+$tmpdir/s3-secret")
}

# An S3 client independent of nbds3 (boto3), for looking at the bucket.
_s3_client ()
{
  "$srcdir/s3-client.py" "$@"
}

# _s3_keys: every key in the test's bucket, sorted.
_s3_keys ()
{
  s3_objects | awk '{ print $2 }'
}

# store_export_exists EXPORT: true if EXPORT has anything in the store.
store_export_exists ()
{
  case "$STORE" in
    fs) [ -e "$data_dir/exports/$1" ] ;;
    s3) _s3_keys | grep -qF "exports/$1/" ;;
  esac
}

# store_pages EXPORT: the indices (decimal) of the pages EXPORT has in the
# store, sorted, one per line.
store_pages ()
{
  local f
  case "$STORE" in
    fs)
      [ -d "$data_dir/exports/$1" ] || return 0
      for f in "$data_dir/exports/$1"/page-*.bin; do
        [ -e "$f" ] || continue         # no page: the pattern itself
        echo "${f##*/}"
      done
      ;;
    s3)
      _s3_keys | while read -r f; do
        case "$f" in "exports/$1/page-"*.bin) echo "${f##*/}" ;; esac
      done
      ;;
  esac | while read -r f; do
    f="${f#page-}"
    echo $((16#${f%.bin}))
  done | sort -n
}

# store_list: print every file or object in the store, one per line,
# relative to the store's root (for "left nothing behind" checks).
store_list ()
{
  case "$STORE" in
    fs) [ -d "$data_dir" ] && (cd "$data_dir" && find . -mindepth 1 | sort) ;;
    s3) _s3_keys ;;
  esac
  return 0
}

# ---- S3 only ------------------------------------------------------------

# s3_start_server rgw|s3rver: start this test's own S3 server in
# $tmpdir/s3 (stopped at cleanup), for tests that need a given
# implementation or control over the server (stopping radosgw).  Call it
# before store_setup / start_nbds3, which then use it; it overrides a
# server named by S3_ENDPOINT.  Sets s3_dir, S3_SERVER and S3_PIDS and
# exports S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION.
s3_start_server ()
{
  local kind="$1" out
  [ "$STORE" = s3 ] || fail "s3_start_server needs STORE=s3"
  [ "$_store_ready" = 0 ] || fail "s3_start_server after store_setup"
  case "$kind" in rgw|s3rver) ;; *) fail "s3_start_server: $kind?" ;; esac
  s3_dir="$tmpdir/s3"
  on_cleanup "'$srcdir/s3-server.sh' stop '$s3_dir' >/dev/null 2>&1"
  out="$("$srcdir/s3-server.sh" "start-$kind" "$s3_dir")" ||
    fail "could not start the S3 server (tests/s3-server.sh start-$kind)"
  eval "$out"
  [ -n "${S3_ENDPOINT:-}" ] || fail "s3-server.sh printed no S3_ENDPOINT"
  export S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY
  export S3_REGION="${S3_REGION:-us-east-1}"
}

# s3_objects: "SIZE KEY" for every object of the test's bucket, by key,
# listed by an independent client (boto3, paginated).
s3_objects ()
{
  _s3_client ls "$s3_bucket" >"$tmpdir/s3-objects.out" ||
    fail "cannot list bucket $s3_bucket"
  awk '{ print $1, $2 }' "$tmpdir/s3-objects.out" | sort -k2
}

# s3_rgw_pid: the pid of this test's radosgw (from s3_start_server rgw).
s3_rgw_pid ()
{
  awk '$2 == "radosgw" { p = $1 } END { print p }' "$s3_dir/pids"
}

# S3_PY: Python prelude for s3_python and s3_nbdsh, with an independent
# boto3 client: s3 (signed with S3_SECRET_KEY), bucket (the test's),
# s3_client(secret=..., access=...), s3_keys(prefix) -> {key: size},
# s3_get(key) -> bytes, s3_code(exception) -> S3 error code or None.
# shellcheck disable=SC2016
S3_PY='
import os
import boto3, botocore.config, botocore.exceptions
def s3_client(secret=None, access=None):
    return boto3.client(
        "s3", endpoint_url=os.environ["S3_ENDPOINT"],
        aws_access_key_id=access or os.environ["S3_ACCESS_KEY"],
        aws_secret_access_key=secret or os.environ["S3_SECRET_KEY"],
        region_name=os.environ.get("S3_REGION", "us-east-1"),
        config=botocore.config.Config(
            signature_version="s3v4", s3={"addressing_style": "path"},
            retries={"max_attempts": 1}, connect_timeout=2, read_timeout=30))
s3 = s3_client()
bucket = os.environ["S3_BUCKET"]
def s3_keys(prefix=""):
    keys = {}
    for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                           Prefix=prefix):
        for o in p.get("Contents", []):
            keys[o["Key"]] = o["Size"]
    return keys
def s3_get(key):
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
def s3_code(e):
    if isinstance(e, botocore.exceptions.ClientError):
        return e.response.get("Error", {}).get("Code")
    return None
'

# FLUSH_PY: Python prelude for nbdsh -c: failing_flush(h, what, limit)
# flushes, which must fail (WHAT is down) within LIMIT seconds, and
# returns the seconds it took.
# shellcheck disable=SC2016
FLUSH_PY='
import time
def failing_flush(h, what, limit):
    t = time.monotonic()
    try:
        h.flush()
    except nbd.Error as e:
        secs = time.monotonic() - t
        print("flush with %s: failed after %.1f s: %s" % (what, secs, e))
        assert secs <= limit, "the flush with %s took %.1f s to fail, " \
            "more than %d s" % (what, secs, limit)
        return secs
    raise SystemExit("flush succeeded with %s" % what)
'

# s3_python SCRIPT [ARG...]: run python SCRIPT after S3_PY (sys.argv[1:]
# are the ARGs).
s3_python ()
{
  local script="$1"
  shift
  store_setup
  S3_BUCKET="$s3_bucket" "$NBD_PYTHON" -c "$S3_PY
$script" "$@"
}

# s3_nbdsh URI SCRIPT: nbdsh with h connected to URI, after S3_PY.
s3_nbdsh ()
{
  store_setup
  S3_BUCKET="$s3_bucket" nbdsh -u "$1" -c "$S3_PY" -c "$2"
}

# ---- nbds3 --------------------------------------------------------------

_nbds3_keys_main=()

# start_nbds3 [KEY=VALUE...]: start instance "main" on the test's store.
# The keys are remembered for restart_nbds3.
start_nbds3 ()
{
  start_nbds3_as main "$@"
}

# start_nbds3_as NAME [OPTION...] [KEY=VALUE...]: the same for a named
# instance.  nbdkit options come first, one word each (-Dnbds3.cache=1).
start_nbds3_as ()
{
  local name="$1"
  shift
  store_setup
  local -a opts=() keys=()
  while [ $# -gt 0 ] && [ "${1#-}" != "$1" ]; do
    opts+=("$1")
    shift
  done
  keys=("$@")
  eval "_nbds3_keys_$name=(\"\${opts[@]}\" \"\${keys[@]}\")"
  store_keys_with "${keys[@]}"
  start_nbdkit "$name" "${opts[@]}" "$NBDS3_PLUGIN" "${STORE_KEYS_WITH[@]}"
}

# restart_nbds3 [NAME]: clean stop, then start with the same keys.
restart_nbds3 ()
{
  local name="${1:-main}"
  local -a saved
  eval "saved=(\"\${_nbds3_keys_${name}[@]}\")"
  stop_nbdkit "$name"
  start_nbds3_as "$name" "${saved[@]}"
}

# ---- Clients held open --------------------------------------------------

# hold_client NAME URI SCRIPT: run the python SCRIPT in nbdsh with h
# connected to URI, in the background, and then keep the connection open
# until release_client NAME.  Returns once SCRIPT has run.
hold_client ()
{
  local name="$1" u="$2" script="$3" pid
  rm -f "$tmpdir/$name.ready" "$tmpdir/$name.release"
  CLIENT="$name" nbdsh -u "$u" -c "$script" -c '
import os, time
base = os.environ["tmpdir"] + "/" + os.environ["CLIENT"]
open(base + ".ready", "w").close()
deadline = time.time() + 300
while not os.path.exists(base + ".release") and time.time() < deadline:
    time.sleep(0.05)
try:
    h.shutdown()
except nbd.Error as e:
    print("shutdown: %s" % e)
' >"$tmpdir/$name.client.log" 2>&1 &
  pid=$!
  bg_pid "$pid"
  eval "_client_pid_$name=$pid"
  wait_for 60 _client_ready_or_gone "$name" "$pid" ||
    fail "client $name: not ready after 60s"
  if [ ! -e "$tmpdir/$name.ready" ]; then
    cat "$tmpdir/$name.client.log" >&2
    fail "client $name failed"
  fi
}

_client_ready_or_gone ()
{
  [ -e "$tmpdir/$1.ready" ] || _pid_gone "$2"
}

# release_client NAME: let the client disconnect and wait for it to exit
# (its status is not checked: its server may have been killed).
release_client ()
{
  local name="$1" pid
  eval "pid=\$_client_pid_$name"
  touch "$tmpdir/$name.release"
  wait_for 60 _pid_gone "$pid" || fail "client $name did not exit"
  wait "$pid" || :
}

# ---- Data helpers -------------------------------------------------------

# random_file FILE SIZE: SIZE bytes of random data (SIZE as for head -c).
random_file ()
{
  head -c "$2" /dev/urandom >"$1"
}

sum_of ()
{
  sha256sum <"$1" | cut -d' ' -f1
}

# stats_check FILE PYTHON-EXPR...: true if the statistics file FILE
# (stats-file=) parses and every EXPR holds (t: the total, x: the
# exports, d: the whole object); false while it is missing, or names no
# such export yet.
stats_check ()
{
  python3 -c '
import json, sys
try:
    with open(sys.argv[1]) as f:
        d = json.load(f)
except FileNotFoundError:
    sys.exit(1)
t, x = d["total"], d["exports"]
for expr in sys.argv[2:]:
    try:
        if not eval(expr):
            sys.exit(1)
    except KeyError:
        sys.exit(1)
' "$@"
}

# nbdsh_py URI SCRIPT: run a python snippet with h connected to URI.
nbdsh_py ()
{
  nbdsh -u "$1" -c "$2"
}

# ---- The credential chain -------------------------------------------------

# s3_creds_setup: for the credential-chain tests (radosgw's STS only).
# STORE_KEYS without the credentials (the static ones stay in
# S3_STATIC_KEYS), a HOME of the test's own, no AWS_* variable of the
# caller, instance metadata off (tests turn it on), S3_ROLE_ARN exported.
s3_creds_setup ()
{
  store_setup
  [ "${S3_SERVER:-radosgw}" = radosgw ] ||
    { echo "$test_name: SKIP: needs radosgw's STS"; exit 77; }
  export S3_ROLE_ARN=${S3_ROLE_ARN:-arn:aws:iam:::role/nbds3-test-role}
  S3_STATIC_KEYS=("${STORE_KEYS[@]}")
  STORE_KEYS=("bucket=$s3_bucket" "region=$S3_REGION")
  export HOME="$tmpdir/home" AWS_EC2_METADATA_DISABLED=true
  mkdir -p "$HOME/.aws"
  unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN \
        AWS_PROFILE AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE \
        AWS_ROLE_ARN AWS_ROLE_SESSION_NAME AWS_WEB_IDENTITY_TOKEN_FILE \
        AWS_CONTAINER_CREDENTIALS_RELATIVE_URI \
        AWS_CONTAINER_CREDENTIALS_FULL_URI \
        AWS_CONTAINER_AUTHORIZATION_TOKEN \
        AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE \
        AWS_EC2_METADATA_SERVICE_ENDPOINT AWS_ENDPOINT_URL \
        AWS_ENDPOINT_URL_STS AWS_ENDPOINT_URL_S3
}

# start_cred_server NAME [OPTION...]: tests/cred-server.py (the loopback
# stand-in for IMDS, container credentials and web identity) with its
# log in $tmpdir/NAME.log; its URL ("http://127.0.0.1:PORT") in
# CRED_SERVER.
start_cred_server ()
{
  local name=$1
  shift
  "$srcdir/cred-server.py" --port-file "$tmpdir/$name.port" \
    --log "$tmpdir/$name.log" --max-seconds 1800 "$@" \
    </dev/null >/dev/null 2>"$tmpdir/$name.err" &
  on_cleanup "kill $! 2>/dev/null"
  wait_for 10 test -s "$tmpdir/$name.port" ||
    fail "the credential server did not start: $(cat "$tmpdir/$name.err")"
  CRED_SERVER="http://127.0.0.1:$(cat "$tmpdir/$name.port")"
}
