#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# stats-file=: copy 8 MiB in (nbdcopy --flush) and see the statistics
# file count its PUTs and bytes, in total and for the export, with no page
# left dirty; it is valid JSON every time it is read, also while it is
# rewritten during the copy.  A name with '"' and '\' is escaped.  After a
# restart, reading the data back counts GETs, bytes down and misses; and
# -D nbds3.stats=1 prints no periodic line while nothing changes.

source "$(dirname "$0")/functions.sh"
require_tools nbdcopy python3

stats="$tmpdir/stats.json"
start_nbds3 -Dnbds3.stats=1 stats-file="$stats" page-size=64k size=16M

# check_stats PYTHON-EXPR...: stats_check of this test's file.
check_stats ()
{
  stats_check "$stats" "$@"
}
show_stats ()
{
  cat "$stats" >&2 || :
}
# periodic_lines: whether the running nbdkit (the log since its start)
# printed a periodic stats line.
periodic_lines ()
{
  sed -n '/^==== /h; //!H; ${x; p}' "$(nbdkit_log)" |
    grep -q 'stats (periodic)'
}

# Read the file over and over while it is rewritten: every read must
# parse.
cat >"$tmpdir/reader.py" <<'EOF'
import json, os, sys, time
path, stop = sys.argv[1], sys.argv[2]
reads = 0
while not os.path.exists(stop):
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        time.sleep(0.01)
        continue
    try:
        json.loads(text)
    except ValueError as e:
        sys.exit("not valid JSON (%s): %r" % (e, text))
    reads += 1
print(reads)
EOF
python3 "$tmpdir/reader.py" "$stats" "$tmpdir/stop" >"$tmpdir/reader.out" \
  2>&1 &
reader=$!
bg_pid "$reader"

random_file "$tmpdir/in" 8M
nbdcopy --flush "$tmpdir/in" "$(uri test)"
pages=$((8 * MiB / 65536))
wait_for 8 check_stats "t['puts'] >= $pages" "t['bytes_up'] >= 8 * 2**20" \
         "t['dirty_pages'] == 0" "x['test']['puts'] >= $pages" \
         "x['test']['bytes_up'] >= 8 * 2**20" \
         "x['test']['dirty_bytes'] == 0" ||
  { show_stats; fail "the statistics file does not show the 8 MiB copy"; }

# An export name that JSON must escape.
name='q"b\s'
nbdsh -c "
h.set_export_name('q\"b\\\\s')
h.connect_unix('$(nbdkit_sock)')
h.pwrite(b'x' * 65536, 0)
h.flush()
h.shutdown()"
key="$(printf '%s' "$name" | sed 's/\\/\\\\/g')"  # a Python literal
wait_for 8 check_stats "x['$key']['puts'] >= 1" ||
  { show_stats; fail "no entry for export '$name' in the statistics file"; }

sleep 1.2                       # at least one more rewrite while reading
touch "$tmpdir/stop"
wait "$reader" || { cat "$tmpdir/reader.out" >&2; fail "reader failed"; }
reads="$(cat "$tmpdir/reader.out")"
[ "$reads" -gt 0 ] || fail "the reader never read the file"
info "the file was valid JSON all $reads times it was read"

# At exit, after the final write-back: this process's last word.
pid="$(nbdkit_pid)"
restart_nbds3
newpid="$(nbdkit_pid)"
# The new process starts from zero; idle, -D nbds3.stats=1 says nothing.
wait_for 8 check_stats "d['pid'] == $newpid" "t['gets'] == 0" ||
  { show_stats; fail "the restarted nbdkit did not rewrite the file"; }
sleep 5.5
if periodic_lines; then
  fail "-D nbds3.stats=1 printed a periodic line while nothing changed"
fi
[ "$pid" != "$newpid" ] || fail "the pid did not change on restart"

nbdcopy "$(uri test)" "$tmpdir/out"
cmp -n $((8 * MiB)) "$tmpdir/in" "$tmpdir/out" || fail "data read back differs"
wait_for 8 check_stats "t['gets'] >= $pages" \
         "t['bytes_down'] >= 8 * 2**20" "t['misses'] > 0" \
         "x['test']['gets'] >= $pages" "x['test']['misses'] > 0" \
         "x['test']['bytes_down'] >= 8 * 2**20" ||
  { show_stats; fail "the statistics file does not show the read"; }
wait_for 6 periodic_lines ||
  fail "no periodic stats line after the read"
stop_nbdkit
check_stats "d['pid'] == $newpid" "t['gets'] >= $pages" ||
  { show_stats; fail "no final statistics at exit"; }

info "ok: stats-file= counts the copy in and out"
