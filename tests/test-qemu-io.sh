#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# qemu-io writes and reads patterns at unaligned offsets that cross page
# boundaries (page-size=64k), overwrites parts of existing pages (read,
# modify, write), and reads everything back after a restart.

source "$(dirname "$0")/functions.sh"
require_tools qemu-io

P=65536   # page size

start_nbds3 size=16M page-size=64k cache-size=4M

# qio CMD...: run qemu-io commands on export "qio"; any failed command
# (including a pattern mismatch) fails the test.
qio ()
{
  local -a args=() c out
  for c in "$@"; do args+=(-c "$c"); done
  if ! out="$(qemu-io -f raw "$(uri qio)" "${args[@]}" 2>&1)"; then
    echo "$out" >&2
    fail "qemu-io failed: $*"
  fi
  if echo "$out" | grep -qiE 'fail|error'; then
    echo "$out" >&2
    fail "qemu-io reported a failure: $*"
  fi
}

# qio_mismatch CMD: a read -P that must NOT match (proves checks can fail).
qio_mismatch ()
{
  if qemu-io -f raw "$(uri qio)" -c "$1" >"$tmpdir/qio.out" 2>&1; then
    cat "$tmpdir/qio.out" >&2
    fail "qemu-io unexpectedly succeeded: $1"
  fi
  grep -q 'Pattern verification failed' "$tmpdir/qio.out" ||
    fail "qemu-io failed without a pattern mismatch: $(cat "$tmpdir/qio.out")"
}

# Across one page boundary: [P-1000, P+2000).
qio "write -P 0xab $((P - 1000)) 3000"
# Across three pages: pages 3, 4 and 5, [4P-100, 5P+100+...).
qio "write -P 0xcd $((4 * P - 100)) $((P + 200))"
# Inside one page, unaligned, a page that will be partly overwritten.
qio "write -P 0x11 $((8 * P + 7)) 1000"
# Overwrite the middle of the first region (read-modify-write of page 1).
qio "write -P 0x5a $((P + 100)) 17"
# A write that ends exactly at the end of the export.
qio "write -P 0x77 $((16 * MiB - 5000)) 5000"

check_all ()
{
  qio "read -P 0 0 $((P - 1000))" \
      "read -P 0xab $((P - 1000)) 1100" \
      "read -P 0x5a $((P + 100)) 17" \
      "read -P 0xab $((P + 117)) $((2000 - 117))" \
      "read -P 0 $((P + 2000)) $((3 * P - 2100))" \
      "read -P 0xcd $((4 * P - 100)) $((P + 200))" \
      "read -P 0 $((5 * P + 100)) $((3 * P - 93))" \
      "read -P 0x11 $((8 * P + 7)) 1000" \
      "read -P 0 $((8 * P + 1007)) $((16 * MiB - 5000 - 8 * P - 1007))" \
      "read -P 0x77 $((16 * MiB - 5000)) 5000"
}

check_all
qio_mismatch "read -P 0xab $((4 * P - 100)) 300"
qio_mismatch "read -P 0 $((P - 1001)) 2"

restart_nbds3
check_all
qio_mismatch "read -P 0 $((5 * P + 99)) 2"

# Read past the end must fail.
if qemu-io -f raw "$(uri qio)" -c "read 0 $((16 * MiB + 512))" \
     >"$tmpdir/eof.out" 2>&1; then
  fail "read past the end of the export succeeded"
fi

info "ok: patterns across page boundaries survive a restart"
