#!/bin/bash
# SPDX-License-Identifier: MIT
#
# nbds3's benchmark: one command that starts every target itself on
# loopback (nbds3 on the FS and the S3 store with 4M and 128k pages,
# nbdkit memory, nbdkit file, nbdkit's Python S3 plugin, and the S3
# server's own ceiling), runs the same fio and nbdcopy workloads against
# each over several rounds, once as is and once with 30 ms added before
# every S3 response, and prints a table of medians with the ratios that
# issue 4 asks for.  Not part of `make check`.
#
# This script checks the tools, builds the two helpers (bench/s3raw.c, an
# independent libcurl S3 client for the server's ceiling, and
# bench/delay-proxy.c, the latency proxy) into a fresh work directory,
# runs bench/bench.py, and on exit -- success, failure or a signal --
# stops every process recorded in WORK/pids and the radosgw cluster, and
# removes the work directory (unless --keep).
#
# Results: bench/results.{txt,png,json} for a full run, bench/out/ for
# --quick (or --out DIR).

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
command="bench/run.sh $*"

usage ()
{
  cat <<EOF
usage: bench/run.sh [--quick] [OPTIONS]

  --quick          1 round, 64 MiB, 3 s random phases, 512 MiB memory
                   test (about 3 minutes); the full run is 3 rounds,
                   256 MiB, 6 s, 2 GiB (20-30 minutes)
  --rounds N       rounds (targets alternate their order each round)
  --rand-secs N    length of each time-bounded random phase
  --delay-ms N     latency added before every S3 response (default 30)
  --no-delay       skip the pass with added latency
  --no-s3          skip radosgw and every S3 target
  --zero-fill-only only the zero-fill workload (64 MiB of zeros through
                   nbdcopy into nbds3 with 4M pages: objects and PUTs)
  --targets LIST   comma-separated subset, e.g. nbdkit-memory,nbds3-fs-4M
                   (nbdkit-memory nbdkit-file nbds3-fs-4M nbds3-fs-128k
                   nbds3-s3-4M nbds3-s3-128k nbdkit-S3-4M raw)
  --out DIR        where results.{txt,png,json} go
                   (default: bench/ for a full run, bench/out/ for --quick)
  --keep           keep the work directory (logs, fio JSON, chart data)
  --replot JSON    only redo results.txt and results.png from a
                   results.json (starts nothing)

Environment: BENCH_TMPDIR (default /var/tmp) holds the work directory; it
must be on a disk, not tmpfs, for the FS targets to mean anything.
EOF
}

quick=0 keep=0 out="" replot=""
args=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) quick=1; args+=(--quick) ;;
    --keep) keep=1 ;;
    --replot) replot=$2; shift ;;
    --replot=*) replot=${1#--replot=} ;;
    --out) out=$2; shift ;;
    --out=*) out=${1#--out=} ;;
    --rounds|--rand-secs|--delay-ms|--targets) args+=("$1" "$2"); shift ;;
    --rounds=*|--rand-secs=*|--delay-ms=*|--targets=*) args+=("$1") ;;
    --no-delay|--no-s3|--zero-fill-only) args+=("$1") ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
  shift
done
if [[ -z $out ]]; then
  if [[ $quick = 1 ]]; then out=$here/out; else out=$here; fi
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)

if [[ -n $replot ]]; then
  exec /usr/bin/python3 "$here/bench.py" --replot "$replot" --out "$out"
fi

# Debian's tools first: a python3 earlier in PATH (pyenv) lacks libnbd
# and boto3.
export PATH=/usr/bin:/bin:/usr/sbin:/sbin:$PATH
export LC_ALL=C

missing=()
for t in nbdkit fio nbdcopy nbdsh gnuplot cc curl-config python3; do
  command -v "$t" > /dev/null || missing+=("$t")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "bench/run.sh: missing ${missing[*]}" >&2
  echo "  apt-get install nbdkit nbdkit-plugin-python python3-boto3" \
       "libnbd-bin python3-libnbd fio gnuplot-nox libcurl4-openssl-dev" \
       "libssl-dev" >&2
  exit 1
fi
if [[ ! -f $top/plugin/.libs/nbds3.so ]]; then
  echo "bench/run.sh: $top/plugin/.libs/nbds3.so not built (run make)" >&2
  exit 1
fi

work=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/nbds3-bench.XXXXXX")
: > "$work/pids"

# True if PID is alive and its command line names the work directory
# (so a recycled pid is never ours).
ours ()
{
  local cmd
  cmd=$(tr '\0' ' ' 2> /dev/null < "/proc/$1/cmdline") || return 1
  [[ $cmd == *"$work"* ]]
}

cleanup ()
{
  local rc=$? pid
  trap - EXIT INT TERM
  # Anything the driver started and did not stop (it stops its own in a
  # finally block; this catches a driver killed outright).
  while read -r pid; do
    if ours "$pid"; then kill -TERM "$pid" 2> /dev/null || true; fi
  done < "$work/pids"
  while read -r pid; do
    for _ in $(seq 50); do
      ours "$pid" || break
      sleep 0.1
    done
    if ours "$pid"; then kill -KILL "$pid" 2> /dev/null || true; fi
  done < "$work/pids"
  if [[ -d $work/rgw ]]; then
    "$top/tests/s3-server.sh" stop "$work/rgw" 2> /dev/null || rc=1
  fi
  if [[ $keep = 1 ]]; then
    echo "bench/run.sh: work directory kept: $work" >&2
  else
    rm -rf "$work"
  fi
  exit "$rc"
}

child=""
on_signal ()
{
  # The driver runs in the background (so that this shell gets signals
  # while it waits); pass the signal on, let it stop its daemons, then exit.
  if [[ -n $child ]]; then
    kill -TERM "$child" 2> /dev/null || true
    wait "$child" || true
  fi
  exit 130
}
trap cleanup EXIT
trap on_signal INT TERM

mkdir -p "$work/bin"
cc -O2 -Wall -Wextra -o "$work/bin/s3raw" "$here/s3raw.c" \
  $(curl-config --cflags) $(curl-config --libs) -lcrypto -pthread
cc -O2 -Wall -Wextra -pthread -o "$work/bin/delay-proxy" \
  "$here/delay-proxy.c"

/usr/bin/python3 "$here/bench.py" --work "$work" --top "$top" \
  --out "$out" --command "$command" ${args[@]+"${args[@]}"} &
child=$!
wait "$child"
