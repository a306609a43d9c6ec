#!/bin/bash
# SPDX-License-Identifier: MIT
#
# How long snapshots and clones take (issue 14), on both stores: a
# snapshot of a 256 MiB export with no server, the same while a server
# holds the export and fio writes to it (the tool asks the holder for
# its point), a snapshot of a 1 GiB export, and a clone of that
# snapshot, which costs one metadata object whatever the size.  Every
# export is full of random pages (4 MiB each, the default page size).
# The S3 store runs on a radosgw with a bluestore OSD on disk.  Not part
# of `make check`.
#
# Writes its table between the "snapshots and clones" markers of
# bench/results.txt (or --out FILE), and prints it.
#
#   bench/snapshots.sh [--out FILE] [--no-s3] [--keep]
set -euo pipefail
shopt -s inherit_errexit   # the rows are measured in a $(...)

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
out=$here/results.txt no_s3=0 keep=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --out) out=$2; shift ;;
    --no-s3) no_s3=1 ;;
    --keep) keep=1 ;;
    *) echo "usage: bench/snapshots.sh [--out FILE] [--no-s3] [--keep]" >&2
       exit 2 ;;
  esac
  shift
done
export PATH=/usr/bin:/bin:/usr/sbin:/sbin:$PATH LC_ALL=C
plugin=$top/plugin/.libs/nbds3.so tool=$top/tool/nbds3
for f in "$plugin" "$tool"; do
  [[ -x $f || -f $f ]] || { echo "bench/snapshots.sh: $f not built" >&2; exit 1; }
done
work=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/nbds3-snap-bench.XXXXXX")
nbdkit_pid="" rgw=""


cleanup ()
{
  trap - EXIT INT TERM
  # (The rows are measured in a subshell: its server's pid is in the file.)
  [[ -s $work/nbdkit.pid ]] && kill "$(cat "$work/nbdkit.pid")" 2> /dev/null || :
  [[ -n $rgw ]] && "$top/tests/s3-server.sh" stop "$rgw" > /dev/null 2>&1 || :
  [[ $keep = 1 ]] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT INT TERM

# Seconds since $1 (date +%s.%N), to 0.01 s.
since () { echo "$(date +%s.%N) $1" | awk '{ printf "%.2f", $1 - $2 }'; }

# Serve the store given by the keys in "$@" on $work/nbd.sock.
serve ()
{
  rm -f "$work/nbd.sock" "$work/nbdkit.pid"
  setsid -f nbdkit -f -v --log=stderr -U "$work/nbd.sock" \
    -P "$work/nbdkit.pid" "$plugin" size=1G "$@" 2>> "$work/nbdkit.log"
  for _ in $(seq 100); do
    [[ -s $work/nbdkit.pid ]] && break
    sleep 0.1
  done
  if [[ ! -s $work/nbdkit.pid ]]; then
    echo "bench/snapshots.sh: nbdkit did not start:" >&2
    tail -n 5 "$work/nbdkit.log" >&2
    exit 1
  fi
  nbdkit_pid=$(cat "$work/nbdkit.pid")
}

stop_serving ()
{
  kill "$nbdkit_pid"
  while kill -0 "$nbdkit_pid" 2> /dev/null; do sleep 0.1; done
  nbdkit_pid=""
  rm -f "$work/nbdkit.pid"
}

# Fill EXPORT with MIB MiB of random data.
fill ()
{
  head -c "$(( $2 << 20 ))" "$work/random" |
    nbdcopy - "nbd+unix:///$1?socket=$work/nbd.sock"
}

# One store's rows: its label, then its keys.
bench_store ()
{
  local label=$1 t fio_pid
  shift
  serve "$@"
  fill vm 256
  fill big 1024
  stop_serving

  t=$(date +%s.%N)
  "$tool" snapshot vm vm-snap "$@" > /dev/null
  echo "$label snapshot, 256 MiB, no server: $(since "$t") s"

  serve "$@"
  fio --name=live --ioengine=nbd --uri="nbd+unix:///vm?socket=$work/nbd.sock" \
    --rw=randwrite --bs=64k --size=256M --time_based --runtime=120 \
    --fsync=32 > "$work/fio.log" 2>&1 &
  fio_pid=$!
  sleep 2
  t=$(date +%s.%N)
  "$tool" snapshot vm vm-live "$@" > /dev/null
  echo "$label snapshot, 256 MiB, served, fio writing: $(since "$t") s"
  kill "$fio_pid" 2> /dev/null || :
  wait "$fio_pid" 2> /dev/null || :
  stop_serving
  "$tool" verify vm-live "$@" > /dev/null

  t=$(date +%s.%N)
  "$tool" snapshot big big-snap "$@" > /dev/null
  echo "$label snapshot, 1 GiB, no server: $(since "$t") s"
  t=$(date +%s.%N)
  "$tool" clone big-snap big-clone "$@" > /dev/null
  echo "$label clone of a 1 GiB snapshot: $(since "$t") s"
}

head -c $(( 1024 << 20 )) /dev/urandom > "$work/random"
mkdir -p "$work/data"
if [[ $no_s3 = 0 ]]; then
  rgw=$work/rgw
  RGW_OBJECTSTORE=bluestore RGW_BLUESTORE_SIZE=8G \
    "$top/tests/s3-server.sh" start-rgw "$rgw" > "$work/rgw.env"
  set -a
  # shellcheck disable=SC1091
  . "$work/rgw.env"
  set +a
  python3 "$top/tests/s3-client.py" mkbucket snapbench
  printf '%s' "$S3_SECRET_KEY" > "$work/secret"
fi
rows=$(
  bench_store "FS " "data-dir=$work/data"
  if [[ $no_s3 = 0 ]]; then
    bench_store "S3 " bucket=snapbench "endpoint=$S3_ENDPOINT" \
      "access-key=$S3_ACCESS_KEY" "secret-key=+$work/secret" lease-timeout=30 \
      request-timeout=5 connect-timeout=2
  fi
)

table="## Snapshots and clones (bench/snapshots.sh, $(git -C "$top" rev-parse --short HEAD), $(date -u +%Y-%m-%d))
$rows"
echo "$table"
python3 - "$out" "$table" <<'EOF'
import sys
path, table = sys.argv[1], sys.argv[2]
begin, end = "<!-- snapshots and clones -->", "<!-- end of snapshots and clones -->"
try:
    text = open(path).read()
except FileNotFoundError:
    text = ""
block = "%s\n%s\n%s\n" % (begin, table, end)
if begin in text and end in text:
    head, rest = text.split(begin, 1)
    text = head + block + rest.split(end, 1)[1].lstrip("\n")
else:
    text = text.rstrip("\n") + ("\n\n" if text else "") + block
open(path, "w").write(text)
EOF
