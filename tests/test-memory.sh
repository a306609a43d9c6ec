#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The memory budget holds: with cache-size=32M page-size=1M, writing 4x
# the cache size (nbdcopy of 128M of random data) and reading it all back
# after a restart keep nbdkit's peak RSS (VmHWM) within cache-size plus a
# fixed allowance for nbdkit itself (its request buffers, thread stacks,
# libraries), and the data is intact.

source "$(dirname "$0")/functions.sh"
require_tools nbdcopy nbdinfo

CACHE=32                # MiB
ALLOWANCE=48            # MiB over cache-size for everything else
KEYS=(size=128M page-size=1M "cache-size=${CACHE}M")

hwm_mib ()
{
  local kb
  kb="$(awk '/^VmHWM:/ { print $2 }' "/proc/$(nbdkit_pid)/status")"
  [ -n "$kb" ] || fail "cannot read VmHWM of nbdkit"
  echo $(((kb + 1023) / 1024))
}

check_peak ()
{
  local what="$1" peak
  peak="$(hwm_mib)"
  info "$what: nbdkit peak RSS ${peak} MiB (baseline ${base} MiB," \
       "budget ${CACHE} MiB + ${ALLOWANCE} MiB)"
  [ "$peak" -le $((CACHE + ALLOWANCE)) ] ||
    fail "$what: peak RSS ${peak} MiB exceeds ${CACHE} + ${ALLOWANCE} MiB"
}

start_nbds3 "${KEYS[@]}"
# Baseline: a connection that writes nothing.
nbdinfo "$(uri mem)" >/dev/null
base="$(hwm_mib)"

random_file "$tmpdir/in" 128M
expect="$(sum_of "$tmpdir/in")"
nbdcopy "$tmpdir/in" "$(uri mem)"
check_peak "after writing 128M"
restart_nbds3

nbdcopy "$(uri mem)" - | sha256sum | cut -d' ' -f1 >"$tmpdir/sum"
[ "$(cat "$tmpdir/sum")" = "$expect" ] || fail "128M read back differ"
check_peak "after reading 128M back"

info "ok: peak RSS within cache-size + ${ALLOWANCE} MiB"
