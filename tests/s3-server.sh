#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Test harness: brings up real S3-compatible servers on loopback for nbds3's
# integration tests, the benchmark and people trying nbds3 out, and stops
# them again.  Two independent implementations:
#
#  - radosgw, Ceph's RADOS Gateway (Debian's ceph packages): a throw-away
#    single-node cluster (one mon, one OSD, no mgr, auth none) with every
#    file -- conf, logs, run dir, admin sockets, pid files, store -- inside
#    DIR, so several can run side by side.  It checks SigV4 signatures and
#    payload hashes and honours If-None-Match on PUT.
#  - s3rver (@20minutes/s3rver 5.0.0 from npm, pinned in tests/s3rver),
#    started through tests/s3rver/launch.js.  It checks signatures only.
#
# `start-*` prints shell assignments (S3_ENDPOINT, S3_ACCESS_KEY,
# S3_SECRET_KEY, S3_REGION, S3_PIDS, ...) on stdout for `eval`, writes the
# same to DIR/env, and sends progress to stderr.  Every wait is bounded; on
# failure it prints the tail of the logs, stops what it started and exits 1.
# `stop` sends SIGTERM, waits, then SIGKILL, and fails if a process stays.

set -euo pipefail

prog=s3-server.sh
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Fixed test credentials (not secret: they exist only on loopback).
ACCESS_KEY=${S3_TEST_ACCESS_KEY:-nbds3test}
SECRET_KEY=${S3_TEST_SECRET_KEY:-nbds3testsecret000000000000000000000000}
ROLE_NAME=nbds3-test-role
REGION=us-east-1

# Debian's python3 has python3-boto3; a python3 earlier in PATH may not.
if [[ -z ${PYTHON:-} ]]; then
  if [[ -x /usr/bin/python3 ]]; then PYTHON=/usr/bin/python3
  else PYTHON=python3; fi
fi

usage ()
{
  cat <<EOF
usage: $prog start-rgw DIR       start a radosgw cluster in DIR (absent or empty)
       $prog start-s3rver DIR    start s3rver 5 in DIR (absent or empty)
       $prog stop DIR            stop the server started in DIR
       $prog stop-rgw-only DIR   stop only radosgw, keeping mon and OSD (and
                                 so the data: memstore loses it with the OSD)
       $prog start-rgw-only DIR  start radosgw again after stop-rgw-only, on
                                 the same port with the same data
       $prog mkbucket DIR NAME   create bucket NAME on the server in DIR
       $prog env DIR             print the server's shell assignments again

start-* print on stdout, and write to DIR/env:
  S3_ENDPOINT=http://127.0.0.1:PORT S3_ACCESS_KEY=... S3_SECRET_KEY=...
  S3_REGION=us-east-1 S3_PIDS='...' S3_SERVER=radosgw|s3rver S3_DIR=DIR
so a caller can:  eval "\$($prog start-rgw /tmp/rgw)"

Environment:
  S3_PORT=N               HTTP port (default: a free one)
  S3_START_TIMEOUT=SEC    readiness timeout (default 60)
  S3_STOP_TIMEOUT=SEC     SIGTERM grace before SIGKILL (default 5)
  RGW_OBJECTSTORE=memstore|bluestore   OSD store (default memstore)
  RGW_STORAGE_CLASS=NAME  also a storage class NAME (e.g. STANDARD_IA)
  RGW_MEMSTORE_SIZE=SIZE  memstore capacity (default 512M; radosgw hangs,
                          rather than fails, when it is full)
  RGW_BLUESTORE_SIZE=SIZE size of bluestore's sparse file (default 8G)
  S3RVER_DELAY_MS=N       s3rver: delay added before every response (0)
  S3RVER_BUCKETS="A B"    s3rver: buckets to create at start
  XDG_CACHE_HOME=DIR      s3rver: npm ci goes to DIR/nbds3-s3rver when
                          tests/s3rver is read-only (default ~/.cache)
  PYTHON=PATH             python3 with boto3 (default /usr/bin/python3)
EOF
}

log () { echo "$prog: $*" >&2; }
die () { echo "$prog: $*" >&2; exit 1; }

now_ms () { date +%s%3N; }
secs_since () { awk -v a="$1" -v b="$(now_ms)" 'BEGIN { printf "%.2f", (b - a) / 1000 }'; }

# SIZE with an optional K/M/G/T suffix (powers of 1024) -> bytes.
to_bytes () { numfmt --from=iec "$1" || die "bad size: $1"; }

# A free TCP port on 127.0.0.1, outside the kernel's ephemeral range (so
# no outgoing connection takes it before our daemon binds it) and outside
# Ceph's OSD range 6800-7300.  Arguments: ports to avoid.
free_port ()
{
  "$PYTHON" - "$@" <<'EOF'
import random, socket, sys
avoid = {int(a) for a in sys.argv[1:]}
for _ in range(200):
    port = random.randrange(20000, 32000)
    if port in avoid:
        continue
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    sys.exit(0)
sys.exit("no free port found")
EOF
}

# Make DIR absolute and check it is absent or empty.
new_dir ()
{
  local dir=$1
  if [[ -e $dir ]] && [[ -n $(ls -A "$dir") ]]; then
    die "$dir is not empty (stop and remove the old server first)"
  fi
  mkdir -p "$dir"
  (cd "$dir" && pwd)
}

# True if PID is a live (not zombie) process whose command line mentions
# DIR, i.e. it is ours and not a recycled pid.
pid_is_ours ()
{
  local pid=$1 dir=$2 state cmdline
  [[ -r /proc/$pid/stat ]] || return 1
  state=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [[ $state != Z ]] || return 1
  cmdline=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ $cmdline == *"$dir/"* ]]
}

# Wait up to SECONDS for FILE to hold a pid; print it.
wait_pidfile ()
{
  local file=$1 secs=$2 i
  for ((i = 0; i < secs * 10; i++)); do
    if [[ -s $file ]]; then
      cat "$file"
      return 0
    fi
    sleep 0.1
  done
  log "no pid file $file after ${secs}s"
  return 1
}

# Remember a started daemon: "PID NAME" lines in DIR/pids.
record_pid () { echo "$2 $3" >> "$1/pids"; }

dump_logs ()
{
  local dir=$1 f
  for f in "$dir"/log/*; do
    [[ -f $f ]] || continue
    echo "---- tail of $f" >&2
    tail -n 25 "$f" >&2
  done
}

# On a failed start: show the logs, stop what was started, exit 1.
start_failed ()
{
  local dir=$1; shift
  log "start failed: $*"
  dump_logs "$dir"
  stop_server "$dir" || true
  exit 1
}

write_env ()
{
  local dir=$1 server=$2 port=$3 pids
  pids=$(cut -d' ' -f1 "$dir/pids" | tr '\n' ' ')
  pids=${pids% }
  cat > "$dir/env.tmp" <<EOF
S3_ENDPOINT='http://127.0.0.1:$port'
S3_ACCESS_KEY='$ACCESS_KEY'
S3_SECRET_KEY='$SECRET_KEY'
S3_REGION='$REGION'
S3_ROLE_ARN='arn:aws:iam:::role/$ROLE_NAME'
S3_PIDS='$pids'
S3_SERVER='$server'
S3_DIR='$dir'
EOF
  mv "$dir/env.tmp" "$dir/env"
  cat "$dir/env"
}

# Run the tiny boto3 client against the server described by DIR/env.
client ()
{
  local dir=$1; shift
  [[ -f $dir/env ]] || die "$dir/env not found: no server started there"
  (
    # shellcheck disable=SC1091
    . "$dir/env"
    export S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY S3_REGION
    exec "$PYTHON" "$here/s3-client.py" "$@"
  )
}

# Wait until the server answers a signed ListBuckets, or fail.
wait_ready ()
{
  local dir=$1 server=$2 port=$3 pids
  pids=$(cut -d' ' -f1 "$dir/pids" | tr '\n' ' ')
  (
    export S3_ENDPOINT=http://127.0.0.1:$port S3_ACCESS_KEY=$ACCESS_KEY \
      S3_SECRET_KEY=$SECRET_KEY S3_REGION=$REGION
    exec "$PYTHON" "$here/s3-client.py" wait \
      --timeout "${S3_START_TIMEOUT:-60}" --pids "$pids"
  ) || start_failed "$dir" "$server does not answer S3 requests"
}

# ---- radosgw ----

# The test KMS key of radosgw's "testing" backend: 32 bytes, base64.
SSE_TEST_KEY=bmJkczMtdGVzdC1rZXktMzItYnl0ZXMtbG9uZyEhISE=

write_ceph_conf ()
{
  local dir=$1 fsid=$2 mon_port=$3 rgw_port=$4 store=$5 store_bytes=$6
  cat > "$dir/ceph.conf" <<EOF
# Throw-away single-node cluster made by $prog; all state is in $dir.
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
ms bind msgr1 = false
public addr = 127.0.0.1
cluster addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
# radosgw asks for "secure" mode by default, which auth none cannot give.
ms mon client mode = crc secure
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
paxos propose interval = 0.01
paxos min wait = 0.01
run dir = $dir/run
crash dir = $dir/crash
log file = $dir/log/\$name.log
keyring = /dev/null
mon data = $dir/mon/\$name
osd data = $dir/osd/\$name
osd objectstore = $store
memstore device bytes = $store_bytes
bluestore block size = $store_bytes
bluestore block create = true
bluestore fsck on mkfs = false
client mount timeout = 30
osd mon shutdown timeout = 1
# The monitor shuts itself down when its file system has less than
# mon_data_avail_crit (5%) free, and radosgw then hangs every request:
# on a full CI disk that stopped a whole suite half way.  The data here
# is a test's, so never stop for space; and say nothing below 30%.
mon data avail crit = 0
mon data avail warn = 0

[mon]
admin socket = $dir/run/\$name.asok
pid file = $dir/run/\$name.pid

[osd]
admin socket = $dir/run/\$name.asok
pid file = $dir/run/\$name.pid

[client.rgw]
admin socket = $dir/run/\$name.asok
pid file = $dir/run/\$name.pid
# tcp_nodelay: without it every small GET waits ~40 ms for a delayed ACK.
rgw frontends = beast endpoint=127.0.0.1:$rgw_port tcp_nodelay=1
rgw data = $dir/rgw
# Deleted objects' tails are garbage collected after 2 hours by default:
# a shared server that outlives many tests' buckets frees them at once.
rgw gc obj min wait = 0
rgw gc processor period = 30
# STS (AssumeRole) for the credential-chain tests: temporary credentials
# for the role in \$S3_ROLE_ARN.  The key encrypts session tokens.  The
# local engine first: with STS first (the default order), a bad signature
# or an unknown key is answered AccessDenied instead of
# SignatureDoesNotMatch or InvalidAccessKeyId (test-s3-refusals.sh).
rgw s3 auth use sts = true
rgw sts key = nbds3stskey00000
rgw s3 auth order = local, sts
# SSE for the tests (test-s3-sse.sh): over plain http, with the "testing"
# KMS backend and a fixed key (never for real data).
rgw crypt require ssl = false
rgw crypt s3 kms backend = testing
rgw crypt s3 kms encryption keys = testkey-1=$SSE_TEST_KEY
EOF
}

# The STS role the test user may assume (AssumeRole): it allows s3:*.
make_role ()
{
  local dir=$1 conf=$1/ceph.conf log=$1/log/radosgw-admin.log
  local trust='{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
  trust+='"Principal":{"AWS":["arn:aws:iam:::user/nbds3test"]},'
  trust+='"Action":["sts:AssumeRole"]}]}'
  local policy='{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
  policy+='"Action":["s3:*"],"Resource":["arn:aws:s3:::*"]}]}'
  timeout 60 radosgw-admin -c "$conf" caps add --uid nbds3test \
    --caps "roles=*" < /dev/null > /dev/null 2>> "$log" &&
  timeout 60 radosgw-admin -c "$conf" role create --role-name "$ROLE_NAME" \
    --assume-role-policy-doc "$trust" \
    < /dev/null > "$dir/role.json" 2>> "$log" &&
  timeout 60 radosgw-admin -c "$conf" role-policy put \
    --role-name "$ROLE_NAME" --policy-name nbds3-s3 --policy-doc "$policy" \
    < /dev/null >> "$dir/role.json" 2>> "$log" ||
    start_failed "$dir" "radosgw-admin role create"
}

start_rgw ()
{
  local dir store size store_bytes fsid osd_uuid mon_port rgw_port t0 t pid
  local conf times=""
  for t in monmaptool ceph-mon ceph-osd ceph radosgw radosgw-admin; do
    command -v "$t" > /dev/null ||
      die "$t missing (apt-get install ceph-mon ceph-osd radosgw ceph-common)"
  done
  dir=$(new_dir "$1")
  conf=$dir/ceph.conf
  store=${RGW_OBJECTSTORE:-memstore}
  case $store in
    memstore) size=${RGW_MEMSTORE_SIZE:-512M} ;;
    bluestore) size=${RGW_BLUESTORE_SIZE:-8G} ;;
    *) die "RGW_OBJECTSTORE must be memstore or bluestore, not $store" ;;
  esac
  store_bytes=$(to_bytes "$size")
  mon_port=$(free_port)
  rgw_port=${S3_PORT:-0}
  [[ $rgw_port != 0 ]] || rgw_port=$(free_port "$mon_port")
  fsid=$("$PYTHON" -c 'import uuid; print(uuid.uuid4())')
  osd_uuid=$("$PYTHON" -c 'import uuid; print(uuid.uuid4())')
  mkdir -p "$dir"/{run,log,mon,osd/osd.0,rgw,crash}
  : > "$dir/pids"
  write_ceph_conf "$dir" "$fsid" "$mon_port" "$rgw_port" "$store" "$store_bytes"
  log "starting radosgw ($store, $size) in $dir: mon port $mon_port," \
      "S3 port $rgw_port"
  t0=$(now_ms)

  # Monitor.  The daemons fork themselves into the background once
  # initialised; their stdio goes to files so no caller's pipe stays open.
  t=$(now_ms)
  timeout 30 monmaptool --create --fsid "$fsid" \
    --addv a "v2:127.0.0.1:$mon_port" "$dir/monmap" \
    >> "$dir/log/setup.log" 2>&1 || start_failed "$dir" "monmaptool"
  timeout 30 ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" \
    < /dev/null >> "$dir/log/setup.log" 2>&1 || start_failed "$dir" "mon mkfs"
  timeout 30 ceph-mon -c "$conf" -i a \
    < /dev/null >> "$dir/log/mon.a.stdout" 2>&1 ||
    start_failed "$dir" "ceph-mon"
  pid=$(wait_pidfile "$dir/run/mon.a.pid" 10) || start_failed "$dir" "ceph-mon"
  record_pid "$dir" "$pid" ceph-mon
  times+="mon $(secs_since "$t")"

  # OSD: register it (waits for the mon's quorum), make its store, start.
  t=$(now_ms)
  timeout 60 ceph -c "$conf" --connect-timeout 30 osd new "$osd_uuid" 0 \
    < /dev/null >> "$dir/log/setup.log" 2>&1 || start_failed "$dir" "osd new"
  timeout 120 ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$osd_uuid" \
    --no-mon-config < /dev/null >> "$dir/log/setup.log" 2>&1 ||
    start_failed "$dir" "osd mkfs"
  timeout 60 ceph-osd -c "$conf" -i 0 \
    < /dev/null >> "$dir/log/osd.0.stdout" 2>&1 ||
    start_failed "$dir" "ceph-osd"
  pid=$(wait_pidfile "$dir/run/osd.0.pid" 10) || start_failed "$dir" "ceph-osd"
  record_pid "$dir" "$pid" ceph-osd
  times+=", osd $(secs_since "$t")"

  # The S3 user; this also creates radosgw's pools and waits for the OSD.
  t=$(now_ms)
  timeout 120 radosgw-admin -c "$conf" user create --uid nbds3test \
    --display-name "nbds3 test user" \
    --access-key "$ACCESS_KEY" --secret-key "$SECRET_KEY" \
    < /dev/null > "$dir/user.json" 2>> "$dir/log/radosgw-admin.log" ||
    start_failed "$dir" "radosgw-admin user create"
  make_role "$dir"
  times+=", user $(secs_since "$t")"

  # RGW_STORAGE_CLASS=NAME: a second storage class in the same data
  # pool (test-s3-sse.sh's storage-class=); radosgw reads it when it
  # starts.  Opt-in: it costs about a second.
  t=$(now_ms)
  [[ -z ${RGW_STORAGE_CLASS:-} ]] || { timeout 30 radosgw-admin -c "$conf" zonegroup placement add \
    --rgw-zonegroup default --placement-id default-placement \
    --storage-class "$RGW_STORAGE_CLASS" \
    < /dev/null >> "$dir/log/setup.log" 2>&1 &&
  timeout 30 radosgw-admin -c "$conf" zone placement add \
    --rgw-zone default --placement-id default-placement \
    --storage-class "$RGW_STORAGE_CLASS" \
    --data-pool default.rgw.buckets.data \
    < /dev/null >> "$dir/log/setup.log" 2>&1 ||
    start_failed "$dir" "radosgw-admin placement add"
  times+=", storage class $(secs_since "$t")"; }

  t=$(now_ms)
  timeout 30 radosgw -c "$conf" -n client.rgw \
    < /dev/null >> "$dir/log/client.rgw.stdout" 2>&1 ||
    start_failed "$dir" "radosgw"
  pid=$(wait_pidfile "$dir/run/client.rgw.pid" 10) ||
    start_failed "$dir" "radosgw"
  record_pid "$dir" "$pid" radosgw
  wait_ready "$dir" radosgw "$rgw_port"
  times+=", radosgw $(secs_since "$t")"

  log "radosgw ready in $(secs_since "$t0") s ($times)"
  echo "$(secs_since "$t0") s:$times" > "$dir/log/startup-time"
  write_env "$dir" radosgw "$rgw_port"
}

# Only radosgw, for outage tests: stop it, keeping the mon and the OSD
# (memstore's data lives in the OSD), then start it again on its port.
stop_rgw_only ()
{
  local dir pid rest
  [[ -d $1 ]] || die "$1 does not exist"
  dir=$(cd "$1" && pwd)
  [[ -f $dir/ceph.conf ]] || die "$dir is not a radosgw cluster"
  pid=$(awk '$2 == "radosgw" { p = $1 } END { print p }' "$dir/pids")
  [[ -n $pid ]] || die "radosgw is not running in $dir"
  pid_is_ours "$pid" "$dir" || log "radosgw ($pid) had exited already"
  stop_pid "$dir" "$pid" radosgw || return 1
  rest=$(awk -v p="$pid" '$1 != p' "$dir/pids")
  printf '%s\n' "$rest" > "$dir/pids"
  log "radosgw ($pid) stopped; mon and OSD still run"
}

start_rgw_only ()
{
  local dir port pid
  [[ -d $1 ]] || die "$1 does not exist"
  dir=$(cd "$1" && pwd)
  [[ -f $dir/ceph.conf && -f $dir/env ]] || die "$dir is not a radosgw cluster"
  if [[ -n $(awk '$2 == "radosgw"' "$dir/pids") ]]; then
    die "radosgw is still running in $dir (stop-rgw-only first)"
  fi
  port=$(sed -n "s/^S3_ENDPOINT='http:\/\/127.0.0.1:\([0-9]*\)'$/\1/p" \
           "$dir/env")
  [[ -n $port ]] || die "no port in $dir/env"
  rm -f "$dir/run/client.rgw.pid"
  timeout 30 radosgw -c "$dir/ceph.conf" -n client.rgw \
    < /dev/null >> "$dir/log/client.rgw.stdout" 2>&1 ||
    start_failed "$dir" "radosgw"
  pid=$(wait_pidfile "$dir/run/client.rgw.pid" 10) ||
    start_failed "$dir" "radosgw"
  record_pid "$dir" "$pid" radosgw
  wait_ready "$dir" radosgw "$port"
  log "radosgw ($pid) started again on port $port"
  write_env "$dir" radosgw "$port"
}

# ---- s3rver ----

# npm ci into tests/s3rver if its node_modules is missing.
s3rver_install ()
{
  local major
  command -v node > /dev/null || die "node missing (need Node.js >= 20)"
  major=$(node --version | sed 's/^v\([0-9]*\).*/\1/')
  [[ $major -ge 20 ]] ||
    die "node $(node --version) is too old: s3rver 5 needs Node.js >= 20"
  s3rver_home=$here/s3rver
  # A read-only source tree (make distcheck): install a copy elsewhere.
  if [[ ! -d $s3rver_home/node_modules/@20minutes/s3rver &&
        ! -w $s3rver_home ]]; then
    s3rver_home=${XDG_CACHE_HOME:-$HOME/.cache}/nbds3-s3rver
    mkdir -p "$s3rver_home"
    cmp -s "$here/s3rver/package-lock.json" \
      "$s3rver_home/package-lock.json" || rm -rf "$s3rver_home/node_modules"
    cp "$here"/s3rver/{launch.js,package.json,package-lock.json} \
      "$s3rver_home/" || die "cannot copy tests/s3rver to $s3rver_home"
  fi
  if [[ ! -d $s3rver_home/node_modules/@20minutes/s3rver ]]; then
    command -v npm > /dev/null || die "npm missing"
    log "installing s3rver: npm ci in $s3rver_home"
    (cd "$s3rver_home" &&
      timeout 300 npm ci --no-audit --no-fund --loglevel=error) >&2 ||
      die "npm ci failed in $s3rver_home"
  fi
}

start_s3rver ()
{
  local dir port t0 pid b
  local -a args
  s3rver_install
  dir=$(new_dir "$1")
  mkdir -p "$dir"/{run,log,data}
  : > "$dir/pids"
  args=(--directory "$dir/data" --address 127.0.0.1 --port "${S3_PORT:-0}"
        --access-key "$ACCESS_KEY" --secret-key "$SECRET_KEY"
        --delay-ms "${S3RVER_DELAY_MS:-0}"
        --pid-file "$dir/run/s3rver.pid" --port-file "$dir/run/port")
  for b in ${S3RVER_BUCKETS:-}; do args+=(--bucket "$b"); done
  log "starting s3rver in $dir (delay ${S3RVER_DELAY_MS:-0} ms)"
  t0=$(now_ms)
  # setsid -f: its own session, so it outlives the caller's shell.
  # --openssl-legacy-provider: s3rver encrypts its ListObjectsV2
  # continuation tokens with DES, which OpenSSL 3 only has in its legacy
  # provider; without it every truncated listing is a 500 InternalError.
  FORCE_COLOR=0 setsid -f node --openssl-legacy-provider \
    "$s3rver_home/launch.js" "${args[@]}" \
    < /dev/null >> "$dir/log/s3rver.log" 2>&1
  pid=$(wait_pidfile "$dir/run/s3rver.pid" "${S3_START_TIMEOUT:-60}") ||
    start_failed "$dir" "s3rver did not start"
  record_pid "$dir" "$pid" node
  port=$(cat "$dir/run/port")
  wait_ready "$dir" s3rver "$port"
  log "s3rver ready on port $port in $(secs_since "$t0") s"
  echo "$(secs_since "$t0") s" > "$dir/log/startup-time"
  write_env "$dir" s3rver "$port"
}

# ---- stop ----

# Print the pids in DIR/pids that are still our processes.
live_pids ()
{
  local dir=$1 pid name
  [[ -f $dir/pids ]] || return 0
  while read -r pid name; do
    if pid_is_ours "$pid" "$dir"; then echo "$pid"; fi
  done < "$dir/pids"
}

# Stop one process: SIGTERM, wait, SIGKILL, wait; 1 if it survives.
stop_pid ()
{
  local dir=$1 pid=$2 name=$3 i
  pid_is_ours "$pid" "$dir" || return 0
  kill -TERM "$pid" 2> /dev/null || true
  for ((i = 0; i < ${S3_STOP_TIMEOUT:-5} * 10; i++)); do
    pid_is_ours "$pid" "$dir" || return 0
    sleep 0.1
  done
  log "$name ($pid) still running after SIGTERM, sending SIGKILL"
  kill -KILL "$pid" 2> /dev/null || true
  for ((i = 0; i < 50; i++)); do
    pid_is_ours "$pid" "$dir" || return 0
    sleep 0.1
  done
  log "$name ($pid) survives SIGKILL"
  return 1
}

# Stop in reverse start order, so radosgw and the OSD still find their
# monitor while shutting down (an OSD whose mon is gone waits 5 s for it).
stop_server ()
{
  local dir=$1 t0 pid name ret=0
  [[ -d $dir ]] || die "$dir does not exist"
  dir=$(cd "$dir" && pwd)
  if [[ -z $(live_pids "$dir") ]]; then
    log "nothing running in $dir"
    return 0
  fi
  t0=$(now_ms)
  while read -r pid name; do
    stop_pid "$dir" "$pid" "$name" || ret=1
  done < <(tac "$dir/pids")
  [[ $ret -eq 0 ]] || return 1
  log "stopped $dir in $(secs_since "$t0") s"
}

# ---- main ----

[[ $# -ge 1 ]] || { usage >&2; exit 2; }
cmd=$1; shift
case $cmd in
  start-rgw|start-s3rver|stop|stop-rgw-only|start-rgw-only|env)
    [[ $# -eq 1 ]] || { usage >&2; exit 2; }
    case $cmd in
      start-rgw) start_rgw "$1" ;;
      stop-rgw-only) stop_rgw_only "$1" ;;
      start-rgw-only) start_rgw_only "$1" ;;
      start-s3rver) start_s3rver "$1" ;;
      stop) stop_server "$1" ;;
      env) cat "$1/env" ;;
    esac
    ;;
  mkbucket)
    [[ $# -eq 2 ]] || { usage >&2; exit 2; }
    client "$1" mkbucket "$2"
    ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
