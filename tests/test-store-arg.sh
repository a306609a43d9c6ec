#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# store=, nbdkit's magic key: the one bare argument.  A directory (here
# relative) is the FS store there, made absolute; s3://BUCKET/PREFIX is
# prefix=PREFIX (refused with prefix= too, or when PREFIX is not a valid
# prefix); store= with data-dir= or bucket= is refused.  FS only.

source "$(dirname "$0")/functions.sh"

cd "$tmpdir"
start_nbdkit main "$NBDS3_PLUGIN" bare-store size=16M page-size=64k \
  cache-size=4M connections=2
nbdsh -u "$(uri disk)" -c 'h.pwrite(b"bare" * 16384, 0); h.flush()'
stop_nbdkit
[ -d bare-store/exports ] || fail "the bare argument did not make the store"
find bare-store -type f | grep -q . || fail "no page in bare-store"
[ ! -e data ] || fail "./data was used instead of the bare argument"
nbdkit -U - -e disk "$NBDS3_PLUGIN" store="$tmpdir/bare-store" size=16M \
  page-size=64k cache-size=4M connections=2 --run '
  nbdsh -u "$uri" -c "assert h.pread(8, 0) == b\"barebare\""' ||
  fail "store=DIR does not serve what the bare argument stored"

# refused PATTERN ARG...: nbdkit must not start, and say PATTERN.
refused ()
{
  local pattern="$1"
  shift
  if timeout 60 nbdkit -U - "$NBDS3_PLUGIN" "$@" --run 'exit 0' \
       >refused.log 2>&1; then
    fail "nbdkit started with: $*"
  fi
  grep -qE -- "$pattern" refused.log || {
    cat refused.log >&2
    fail "no message matching '$pattern' for: $*"
  }
  info "refused: $* -> $(grep -E -- "$pattern" refused.log | head -1)"
}

refused 'give the prefix once' s3://b/p prefix=q
refused 'prefix=\.\./x: not a key prefix' s3://b/../x
refused 'no bucket name' s3://
refused 'data-dir= or bucket=, not both' bare-store data-dir="$tmpdir/d"
refused 'data-dir= or bucket=, not both' store=s3://b data-dir="$tmpdir/d"
refused 'data-dir= or bucket=, not both' s3://b bucket=b
refused 'store is already' one two
[ ! -e d ] || fail "a refused config created a store"

info "ok: the bare argument is the store"
