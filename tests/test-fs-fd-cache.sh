#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The FS store's cache of open page files never serves a replaced page.
# With 64k pages, a page cache of 8 pages and 32 cached descriptors,
# reading 19 other pages evicts page 0 from the page cache but keeps its
# file open, so the next read of page 0 goes to the store through the
# cached descriptor.  (Within one connection: when an export's last
# connection closes, its guard is released and its descriptors closed.)
#   (1) A writable server: page 0 read (descriptor cached), rewritten
#       through nbds3 and flushed, evicted, read again: the new bytes.  A
#       cache that kept the descriptor over the write served the old
#       file's bytes, with their still valid checksum.
#   (2) A read-only server: page 0 read (descriptor cached), then
#       replaced behind its back by a rename, as a writer elsewhere
#       replaces a page, evicted, read again: the new bytes.  A cache
#       that trusted its descriptor without the guard served the old
#       inode.
# The FS store only: the S3 store keeps no descriptors.

source "$(dirname "$0")/functions.sh"
[ "$STORE" = fs ] || fail "test-fs-fd-cache.sh is for STORE=fs"

P=65536
keys=(size=4M page-size=64k cache-size=512k connections=2)

# The python lines to read pages 1..19 (evicting page 0 from the page
# cache), then page 0, from the store, and check that it is all BYTE ($1).
read_pages ()
{
  echo "
for i in range(1, 20):
    h.pread($P, i * $P)
p0 = h.pread($P, 0)
assert p0 == b'$1' * $P, 'page 0 reads %r, want $1' % p0[:8]"
}

start_nbds3 "${keys[@]}"
nbdsh -u "$(uri fdc)" -c "
for i in range(64):
    h.pwrite(b'A' * $P, i * $P)
h.flush()"
restart_nbds3                   # empty page cache, no descriptors

# ---- (1) a write through nbds3 drops the cached descriptor ----
nbdsh -u "$(uri fdc)" -c "$(read_pages A)" -c "$(read_pages A)" \
  -c "h.pwrite(b'B' * $P, 0); h.flush()" -c "$(read_pages B)" ||
  fail "(1) page 0 read the bytes it had before the write"
stop_nbdkit

# ---- (2) a read-only server re-checks the inode of a cached descriptor --
# Page 0 with the bytes 'C' and their checksum, made by another nbds3.
other="$tmpdir/other"
start_nbdkit other "$NBDS3_PLUGIN" data-dir="$other" "${keys[@]}"
nbdsh -u "nbd+unix:///fdc?socket=$tmpdir/other.sock" -c "
h.pwrite(b'C' * $P, 0); h.flush()"
stop_nbdkit other

start_nbds3 -r "${keys[@]}"
page="$data_dir/exports/fdc/page-00000000.bin"
cp --preserve=xattr "$other/exports/fdc/page-00000000.bin" "$page.new"
nbdsh -u "$(uri fdc)" -c "$(read_pages B)" -c "$(read_pages B)" \
  -c "import os; os.rename('$page.new', '$page')" -c "$(read_pages C)" ||
  fail "(2) the read-only server read the replaced inode"
stop_nbdkit
