#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# nbdkit --dump-plugin: the plugin's name, version, thread model and the
# callbacks the design relies on; --help lists the config keys.  Neither
# touches the store (no ./data appears in the working directory).

source "$(dirname "$0")/functions.sh"

cd "$tmpdir"
nbdkit "$NBDS3_PLUGIN" --dump-plugin >dump.txt 2>dump.err ||
  { cat dump.err >&2; fail "nbdkit --dump-plugin failed"; }
cat dump.txt

want ()
{
  grep -qxF -- "$1" dump.txt || fail "--dump-plugin lacks '$1'"
}

want "name=nbds3"
grep -qE '^version=[0-9]+\.[0-9]+' dump.txt ||
  fail "no version= in --dump-plugin"
if [ -n "${abs_top_builddir:-}" ] && [ -f "$abs_top_builddir/config.h" ]; then
  v="$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' \
         "$abs_top_builddir/config.h")"
  want "version=$v"
fi
want "api_version=2"
want "max_thread_model=parallel"
want "thread_model=parallel"
for cb in config config_complete config_help get_ready after_fork cleanup \
          open close get_size block_size list_exports \
          can_multi_conn can_fua \
          pread pwrite flush trim zero extents; do
  want "has_$cb=1"
done

# Every key is documented in --help.
nbdkit "$NBDS3_PLUGIN" --help >help.txt 2>&1 ||
  fail "nbdkit PLUGIN --help failed"
for key in data-dir size page-size cache-size connections inflight-bytes \
           default-export \
           store cache-wait-timeout shutdown-timeout stats-file max-exports \
           linger bucket prefix \
           region endpoint \
           access-key secret-key session-token imds-v1 addressing tls-verify \
           payload-signing \
           ca-file sse sse-kms-key-id storage-class \
           connect-timeout request-timeout retry-deadline \
           lease-timeout break-lease accept-unconditional; do
  grep -qE "(^|[^-a-z])$key=" help.txt ||
    fail "nbdkit $NBDS3_PLUGIN --help does not mention $key="
done

[ ! -e data ] || fail "--dump-plugin or --help created ./data"
info "ok: --dump-plugin and --help"
