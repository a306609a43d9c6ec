#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# nbdcopy 64 MiB of random data into export "test" and back out; stop
# nbdkit cleanly, start it again and read the same bytes back.  The copy in
# does not flush: the clean stop (last close, then SIGTERM) must write back.

source "$(dirname "$0")/functions.sh"
require_tools nbdcopy nbdinfo

start_nbds3 size=128M page-size=1M cache-size=32M

random_file "$tmpdir/in" 64M
# What the export should hold: the data, then zeros to its size.
cp "$tmpdir/in" "$tmpdir/expect"
truncate -s 128M "$tmpdir/expect"
expect="$(sum_of "$tmpdir/expect")"

nbdcopy "$tmpdir/in" "$(uri test)"
size="$(nbdinfo --size "$(uri test)")"
[ "$size" = $((128 * MiB)) ] || fail "export size is $size, not 128M"

nbdcopy "$(uri test)" "$tmpdir/out"
cmp "$tmpdir/expect" "$tmpdir/out" || fail "data read back differs"
rm -f "$tmpdir/out"

restart_nbds3
nbdcopy "$(uri test)" "$tmpdir/out"
got="$(sum_of "$tmpdir/out")"
[ "$got" = "$expect" ] ||
  fail "after restart: sha256 $got, expected $expect"

# A second restart with a different size= keeps the recorded size.
stop_nbdkit
start_nbds3 size=512M page-size=1M cache-size=32M
size="$(nbdinfo --size "$(uri test)")"
[ "$size" = $((128 * MiB)) ] ||
  fail "reopened export has size $size, expected its recorded 128M"
nbdcopy "$(uri test)" "$tmpdir/out2"
cmp "$tmpdir/expect" "$tmpdir/out2" || fail "data differs after 2nd restart"

info "ok: 64M copied in and out, same sha256 after restart"
