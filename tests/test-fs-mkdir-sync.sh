#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# FS store durability of new directories: when nbds3 creates data-dir
# (and its missing parents), exports/ and an export's directory, the
# parent of each is fsync'd after the mkdir, so a power loss right after
# the first flush into a fresh data-dir cannot lose a directory entry.
# Checked with strace: every successful mkdir of a path under the new
# data-dir is followed by an fsync of a descriptor of its parent.

source "$(dirname "$0")/functions.sh"

require_tools strace python3

top="$tmpdir/new"
timeout 60 strace -f -y -qq -o "$tmpdir/strace.log" \
  -e trace=mkdir,mkdirat,fsync \
  nbdkit -f -U - "$NBDS3_PLUGIN" data-dir="$top/deep/data" \
    size=1M page-size=64k cache-size=4M connections=2 \
    --run 'nbdsh -u "$uri" -c "h.pwrite(b\"x\", 0); h.flush()"' \
    >"$tmpdir/nbdkit.log" 2>&1 ||
  { cat "$tmpdir/nbdkit.log" >&2; fail "nbdkit under strace failed"; }
[ -d "$top/deep/data/exports/default" ] ||
  fail "the export directory was not created"

python3 - "$tmpdir/strace.log" "$top" <<'PY' || fail "a new directory's parent was not fsync'd"
import os, re, sys

log, top = sys.argv[1], sys.argv[2]
made = []          # (line number, path) of each successful mkdir
synced = []        # (line number, path) of each fsync'd descriptor
for n, line in enumerate(open(log)):
    m = re.search(r'mkdir(?:at)?\((?:AT_FDCWD(?:<[^>]*>)?, )?"([^"]*)".*\) = 0$',
                  line)
    if m and m.group(1).startswith(top):
        made.append((n, m.group(1)))
    m = re.search(r'fsync\(\d+<([^>]*)>\) = 0$', line)
    if m:
        synced.append((n, m.group(1)))
want = {top, top + "/deep", top + "/deep/data", top + "/deep/data/exports",
        top + "/deep/data/exports/default"}
missing = want - {p for _, p in made}
if missing:
    sys.exit("not created by nbdkit (strace saw no mkdir): %s" % sorted(missing))
bad = [p for n, p in made
       if not any(m > n and s == os.path.dirname(p) for m, s in synced)]
for p in bad:
    print("mkdir %s: its parent %s was never fsync'd after it"
          % (p, os.path.dirname(p)), file=sys.stderr)
if bad:
    sys.exit(1)
print("%d directories created, each parent fsync'd after" % len(made))
PY
info "ok: every directory nbds3 created has its parent fsync'd"
