#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The layers, from the bottom: common -> s3 -> store -> cache -> plugin,
# and tool/ (the nbds3 command-line tool) at the plugin's level: it may
# use plugin/ (the key parser), and nothing below uses it.
# Every #include "..." of a file in a layer's folder must name a header of
# a folder that layer may use (as Makefile.am's per-target CPPFLAGS also
# say), never a path with "/" or "..", and never a header that exists in
# no layer.  It fails on an upward include such as store/ including a
# header of cache/ or plugin/.

set -e
top="${abs_top_srcdir:-$(dirname "$0")/..}"
cd "$top"

declare -A may_use=(
  [common]="common"
  [s3]="common s3"
  [store]="common s3 store"
  [cache]="common store cache"
  [plugin]="common s3 store cache plugin"
  [tool]="common s3 store cache plugin tool"
)
bad=0 checked=0

for layer in common s3 store cache plugin tool; do
  [ -d "$layer" ] || { echo "test-layers: no folder $layer/" >&2; exit 1; }
  for file in "$layer"/*.[ch]; do
    while IFS= read -r header; do
      checked=$((checked + 1))
      case "$header" in
        */*) echo "$file: #include \"$header\": a path, not a header" \
                  "name (each layer's folders are on its include path)" >&2
             bad=1; continue ;;
      esac
      home=""
      for d in common s3 store cache plugin tool; do
        [ -f "$d/$header" ] && home="$d"
      done
      if [ -z "$home" ]; then
        echo "$file: #include \"$header\": in no layer's folder" >&2
        bad=1
      elif [[ " ${may_use[$layer]} " != *" $home "* ]]; then
        echo "$file: #include \"$header\": $home/ is not below $layer/" \
             "(it may use: ${may_use[$layer]})" >&2
        bad=1
      fi
    done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$file")
  done
done

[ "$checked" -gt 0 ] || { echo "test-layers: no includes found" >&2; exit 1; }
[ "$bad" = 0 ] || exit 1
echo "test-layers: ok: $checked includes, each from its own layer or below"
