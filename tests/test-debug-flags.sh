#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# -D nbds3.cache=1 logs what the man page promises (fetches, evictions,
# write-back) and -D nbds3.store=1 traces the store requests behind them.
# Write 12 pages and flush (write-back), restart, read them all back
# through a cache of 6 pages (foreground fetches and evictions), and ask
# for one page with NBD_CMD_CACHE (a read-ahead fetch); then look for one
# line of each kind in the log.

source "$(dirname "$0")/functions.sh"

# The smallest cache connections=1 allows: page-size * (2 * 1 + 4).
start_nbds3 -Dnbds3.cache=1 -Dnbds3.store=1 \
  size=1M page-size=64k cache-size=384k connections=1

nbdsh_py "$(uri test)" '
for i in range(12):
    h.pwrite(bytes([65 + i]) * 65536, i * 65536)
h.flush()
'

restart_nbds3
nbdsh_py "$(uri test)" '
for i in range(12):
    assert h.pread(65536, i * 65536) == bytes([65 + i]) * 65536, i
h.cache(65536, 0)
'
stop_nbdkit

log="$(nbdkit_log)"
expect_line ()
{
  grep -qF -- "$2" "$log" || fail "no $1 line in the log: '$2'"
}
expect_line "write-back" "cache: write back export 'test' page 0"
expect_line "store write" "store: write_page export 'test' page 0: 0"
expect_line "fetch" "cache: fetch export 'test' page 0 (miss)"
expect_line "store read" "store: read_page export 'test' page 0: 1"
expect_line "eviction" "cache: evict export 'test' page 0 (clean"
expect_line "read-ahead fetch" "cache: fetch export 'test' page 0 (read-ahead)"

info "ok: the cache logs fetches, evictions and write-back; the store" \
     "its requests"
