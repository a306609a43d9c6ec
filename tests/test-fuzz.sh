#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The fuzz targets (tests/fuzz/fuzz-*.c, libFuzzer with ASan and UBSan):
# each runs for FUZZ_SECONDS (default 2) over its seed corpus,
# tests/fuzz/corpus/<target>/, one target after the other.  Any target
# that crashes, leaks, times out or breaks one of its invariants fails
# the test; so does a target that is not built (clang with libFuzzer is
# required, never skipped) or that has no seed corpus.  libFuzzer's own
# exit status for a crash is 77, which automake would read as a skip:
# every failure here exits 1.
#
# What a run finds lands in tests/fuzz/out/<target>/ of the build tree:
# crash-*, leak-*, timeout-* (reproduce with: tests/fuzz/<target> FILE).
# New corpus entries go to a temporary directory and are dropped, unless
# FUZZ_KEEP=1 (make fuzz), which keeps them in tests/fuzz/out/<target>/
# corpus/; FUZZ_MERGE=1 also merges them, minimised, into the seed
# corpus in the source tree.  FUZZ_ONLY="a b" runs only those.

source "$(dirname "$0")/functions.sh"

top_srcdir="${abs_top_srcdir:-$srcdir/..}"
top_builddir="${abs_top_builddir:-$top_srcdir}"
seconds="${FUZZ_SECONDS:-2}"
out="$top_builddir/tests/fuzz/out"
[[ "$seconds" =~ ^[0-9]+$ ]] && [ "$seconds" -gt 0 ] ||
  fail "FUZZ_SECONDS=$seconds: expected a whole number of seconds"

if [ -n "${FUZZ_ONLY:-}" ]; then
  read -r -a targets <<<"$FUZZ_ONLY"
else
  targets=()
  for src in "$top_srcdir"/tests/fuzz/fuzz-*.c; do
    t="$(basename "$src" .c)"
    [ "$t" = fuzz-common ] || targets+=("$t")
  done
fi
[ "${#targets[@]}" -gt 0 ] || fail "no fuzz targets in $top_srcdir/tests/fuzz"

start=$SECONDS
for t in "${targets[@]}"; do
  bin="$top_builddir/tests/fuzz/$t"
  seeds="$top_srcdir/tests/fuzz/corpus/$t"
  [ -x "$bin" ] ||
    fail "$bin is not built: 'make check' builds it with clang, which needs" \
         "clang libclang-rt-14-dev (Debian; quickstart.sh installs them)" \
         "when configure runs"
  [ -n "$(ls -A "$seeds" 2>/dev/null)" ] || fail "$t has no seed corpus in $seeds"

  mkdir -p "$out/$t"
  if [ "${FUZZ_KEEP:-0}" = 1 ]; then
    new="$out/$t/corpus"
  else
    new="$tmpdir/$t.corpus"
  fi
  mkdir -p "$new"
  log="$tmpdir/$t.log"
  [ "${FUZZ_KEEP:-0}" = 1 ] && log="$out/$t/fuzz.log"

  rc=0
  "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
         -artifact_prefix="$out/$t/" "$new" "$seeds" >"$log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    tail -n 40 "$log" >&2
    # shellcheck disable=SC2012 # names made by libFuzzer: hex digits
    found="$(ls -t "$out/$t"/crash-* "$out/$t"/leak-* "$out/$t"/timeout-* \
               "$out/$t"/oom-* 2>/dev/null | head -n 1 || true)"
    fail "$t failed (libFuzzer exit $rc) on ${found:-an input it did not save};" \
         "reproduce with: $bin ${found:-FILE}"
  fi
  runs="$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 runs in \2 s/p' "$log")"
  info "$t: ok, ${runs:-? runs}, $(ls "$seeds" | wc -l) seeds," \
       "$(ls "$new" | wc -l) new inputs"

  if [ "${FUZZ_MERGE:-0}" = 1 ]; then
    "$bin" -merge=1 "$seeds" "$new" >"$out/$t/merge.log" 2>&1 ||
      fail "$t: merging into $seeds failed (see $out/$t/merge.log)"
    info "$t: merged into $seeds ($(ls "$seeds" | wc -l) inputs now)"
  fi
done
info "all ${#targets[@]} targets ok in $((SECONDS - start)) s"
