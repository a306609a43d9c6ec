#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The crash order of a clone's two-object mutations on the FS store,
# checked with strace.  Where a page of the base is involved, two files
# of the clone change, and the first must be durable before the second
# changes, or a power loss could show the base's page where the clone
# had its own page or zeros:
# - a trim of a page that the clone and its base both hold: the
#   tombstone page-%08x.zero is created, the clone's directory fsync'd,
#   and only then page-%08x.bin unlinked;
# - a write over a tombstone: page-%08x.bin renamed into place, the
#   directory fsync'd, and only then the tombstone unlinked.
# The base is made by hand (read-only metadata, two page files that are
# listed but never read), standing in for a snapshot.

source "$(dirname "$0")/functions.sh"
require_tools strace python3

tool_bin="${abs_top_builddir:-$srcdir/..}/tool/nbds3"
data="$tmpdir/data"
mkdir -p "$data/exports/gold"
printf 'version=3\nsize=4194304\npage-size=65536\nchecksums=required\nread-only=true\n' \
  >"$data/exports/gold/nbds3.meta"
: >"$data/exports/gold/page-00000000.bin"
: >"$data/exports/gold/page-00000001.bin"
"$tool_bin" clone gold c data-dir="$data" >/dev/null

# Page 1: written, then trimmed (clone and base hold it).  Page 0:
# trimmed (a tombstone), then written over it.  A flush after each.
cat >"$tmpdir/ops.py" <<'PY'
P = 65536
h.pwrite(b"1" * P, P)
h.flush()
h.trim(P, P)
h.flush()
h.trim(P, 0)
h.flush()
h.pwrite(b"0" * P, 0)
h.flush()
PY
export ops="$tmpdir/ops.py"
timeout 60 strace -f -y -qq -o "$tmpdir/strace.log" \
  -e trace=openat,rename,renameat,renameat2,unlinkat,fsync \
  nbdkit -f -U - "$NBDS3_PLUGIN" data-dir="$data" size=4M page-size=64k \
    cache-size=4M connections=2 default-export=c \
    --run 'nbdsh -u "$uri" -c "$(cat "$ops")"' >"$tmpdir/nbdkit.log" 2>&1 ||
  { cat "$tmpdir/nbdkit.log" >&2; fail "nbdkit under strace failed"; }
[ -e "$data/exports/c/page-00000001.zero" ] &&
  [ ! -e "$data/exports/c/page-00000001.bin" ] &&
  [ -e "$data/exports/c/page-00000000.bin" ] &&
  [ ! -e "$data/exports/c/page-00000000.zero" ] ||
  fail "the clone holds: $(ls "$data/exports/c")"

python3 - "$tmpdir/strace.log" "$data/exports/c" <<'PY' ||
import re, sys

log, clone = sys.argv[1], sys.argv[2]
# Each successful call: (start line, end line, name, arguments).  strace
# -f splits a call that another thread interrupts into "<unfinished
# ...>" and "<... NAME resumed>" lines of the same pid.
calls, pending = [], {}
for n, line in enumerate(open(log).read().splitlines()):
    m = re.match(r"(\d+) +(.*)$", line)
    if not m:
        continue
    pid, rest = m.groups()
    m = re.match(r"<\.\.\. (\w+) resumed>(.*)$", rest)
    if m and pid in pending:
        start, name, args = pending.pop(pid)
        rest = name + "(" + args + m.group(2)
    else:
        start = n
    m = re.match(r"(\w+)\((.*) <unfinished \.\.\.>$", rest)
    if m:
        pending[pid] = (n, m.group(1), m.group(2))
        continue
    m = re.match(r"(\w+)\((.*)\) += (0|\d+<.*>)$", rest)
    if m:
        calls.append((start, n, m.group(1), m.group(2)))

def first(name, pattern, after=-1):
    for start, end, nm, args in calls:
        if nm.startswith(name) and start > after and re.search(pattern, args):
            return start, end
    sys.exit("strace shows no %s of %s after line %d" % (name, pattern,
                                                          after + 1))

def dir_sync(after):
    return first("fsync", r"^\d+<%s>$" % re.escape(clone), after)

def ordered(first_call, first_pat, second_pat, what):
    """FIRST, then an fsync of the clone's directory, then the unlink of
    SECOND_PAT: the fsync ends before the unlink starts."""
    done = first(first_call, first_pat)[1]
    gone = first("unlinkat", second_pat, done)[0]
    sync = dir_sync(done)[1]
    if not sync < gone:
        sys.exit("%s: the unlink (line %d) came before the fsync (line %d)"
                 % (what, gone + 1, sync + 1))

# The trim of page 1: its tombstone, fsync, unlink of the page.
ordered("openat", r'page-00000001\.zero".*O_CREAT', r'"page-00000001\.bin"',
        "trim of page 1")
# The write of page 0 over its tombstone: rename, fsync, unlink.
ordered("rename", r'"page-00000000\.bin"', r'"page-00000000\.zero"',
        "write of page 0")
print("each second change follows an fsync of the clone's directory")
PY
  fail "a clone's two-object mutation is not ordered by an fsync"
info "ok: tombstone and page changes are ordered by an fsync"
