#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# nbds3(1), the exports tool, on the test's store, without nbdkit and
# beside it:
#   - list, info, create, resize, delete, verify, each also with --json
#     (every document must parse);
#   - an export made by `create --size=2G` is served by nbdkit at 2G;
#   - while nbdkit holds an export (a writable connection is open), list
#     and info name the holder (nbdkit's pid), and delete and resize are
#     refused; once it lets go, they work;
#   - resize grows; a shrink without --force is refused; with --force it
#     removes the pages and tombstones beyond the new end and zeros the
#     tail of the page the end cuts, and nbdkit serves the new size;
#   - verify passes a sound export, and names the page or object of each
#     problem: a truncated page, a checksum that does not match, a page
#     without one, a non-empty tombstone, an orphan; exit 1;
#   - delete is refused for a base with a clone (a hand-made clones/x)
#     and for a name that does not exist; deleting a (hand-made) clone
#     removes its back-reference from its base; a delete also cleans up
#     what an interrupted one left (a page without metadata);
#   - usage errors exit 2.
# On S3, delete also goes through tests/fault-proxy.py once, which
# answers DeleteObjects 501 NotImplemented: the tool must fall back to one
# DELETE per object.

source "$(dirname "$0")/functions.sh"
require_tools nbdinfo

P=65536
tool="${abs_top_builddir:-$srcdir/..}/tool/nbds3"
[ -x "$tool" ] || fail "the tool is not built: $tool"
store_setup

# nbds3 ARG...: the tool on the test's store.  Its output goes to
# $tmpdir/out and $tmpdir/err (also shown), its exit status to $rc.
nbds3 ()
{
  rc=0
  "$tool" "${STORE_KEYS[@]}" "$@" >"$tmpdir/out" 2>"$tmpdir/err" || rc=$?
  sed 's/^/  | /' "$tmpdir/out" "$tmpdir/err"
}

# expect STATUS ARG...: run the tool, which must exit with STATUS.
expect ()
{
  local want="$1"
  shift
  info "nbds3 $*"
  nbds3 "$@"
  [ "$rc" = "$want" ] || fail "nbds3 $*: exit status $rc, not $want"
}

# says PATTERN: the last run's stdout or stderr matches PATTERN (grep -E).
says ()
{
  grep -qE -- "$1" "$tmpdir/out" "$tmpdir/err" ||
    fail "nbds3 did not say '$1'"
}

# json EXPR...: the last run's stdout parses as JSON, and each python
# EXPR holds of it (d).
json ()
{
  python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
for expr in sys.argv[2:]:
    assert eval(expr), "%s does not hold of %s" % (expr, d)
' "$tmpdir/out" "$@" || fail "bad JSON output: $(cat "$tmpdir/out")"
}

# ---- The store's objects, by hand (an independent client on S3) ----

case "$STORE" in
  fs)
    obj_path () { printf '%s/exports/%s/%s' "$data_dir" "$1" "$2"; }
    # put_obj EXPORT NAME PYTHON-BYTES [CHECKSUM|none]
    put_obj () {
      mkdir -p "$(dirname "$(obj_path "$1" "$2")")"
      rm -f "$(obj_path "$1" "$2")"        # (and its checksum)
      python3 -c '
import os, sys
open(sys.argv[1], "wb").write(eval(sys.argv[2]))
if sys.argv[3] != "":
    os.setxattr(sys.argv[1], "user.nbds3.crc32c", sys.argv[3].encode())
' "$(obj_path "$1" "$2")" "$3" "${4:-}"
    }
    rm_obj () { rm -f "$(obj_path "$1" "$2")"; }
    # checksum_of EXPORT NAME: the checksum stored with a page
    checksum_of () {
      python3 -c '
import os, sys
print(os.getxattr(sys.argv[1], "user.nbds3.crc32c").decode())
' "$(obj_path "$1" "$2")"
    }
    truncate_obj () { truncate -s "$3" "$(obj_path "$1" "$2")"; }
    objects_of () {
      [ -d "$data_dir/exports/$1" ] || return 0
      (cd "$data_dir/exports/$1" && find . -type f | sed 's|^\./||' | sort)
    }
    ;;
  s3)
    put_obj () {
      s3_python '
import sys
meta = {"nbds3-crc32c": sys.argv[3]} if sys.argv[3] else {}
s3.put_object(Bucket=bucket, Key="exports/%s/%s" % (sys.argv[1], sys.argv[2]),
              Body=eval(sys.argv[4]), Metadata=meta)
' "$1" "$2" "${4:-}" "$3"
    }
    rm_obj () {
      s3_python '
s3.delete_object(Bucket=bucket, Key="exports/%s/%s" % tuple(sys.argv[1:3]))
' "$1" "$2"
    }
    checksum_of () {
      s3_python '
o = s3.head_object(Bucket=bucket, Key="exports/%s/%s" % tuple(sys.argv[1:3]))
print(o["Metadata"]["nbds3-crc32c"])
' "$1" "$2"
    }
    truncate_obj () {
      s3_python '
key = "exports/%s/%s" % (sys.argv[1], sys.argv[2])
o = s3.get_object(Bucket=bucket, Key=key)
body = o["Body"].read()[:int(sys.argv[3])]
s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata=o["Metadata"])
' "$1" "$2" "$3"
    }
    objects_of () { _s3_keys | sed -n "s|^exports/$1/||p" | sort; }
    ;;
esac
# S3_PY's functions take sys.argv.
S3_PY="import sys
$S3_PY"

page_name () { printf 'page-%08x.%s' "$1" "${2:-bin}"; }

# ---- Usage errors ----

expect 2
says "no command"
expect 2 frob
says "unknown command 'frob'"
expect 2 list --bogus
expect 2 list extra
says "too many arguments"
expect 2 list --force
says "list does not take --force"
expect 2 list frob=1
says "unknown parameter 'frob'"
expect 2 create x
says "needs the size"
expect 2 create .x --size=1M
says "not a valid export name"
expect 2 create x --size=lots
says "not a size"
expect 2 resize x
expect 2 resize x big
expect 2 info
[[ "$("$tool" --help)" == *"verify EXPORT"* ]] || fail "--help lists no verify"
[[ "$("$tool" --version)" == "nbds3 "* ]] || fail "--version"

# ---- An empty store ----

if [ "$STORE" = fs ]; then
  expect 1 list
  says "no store there"
  mkdir "$data_dir"
fi
expect 0 list
says "^EXPORT"
expect 0 --json list
json 'd["exports"] == []'
for cmd in info verify delete; do
  expect 1 "$cmd" nope
  says "export 'nope' does not exist"
done
expect 1 resize nope 1G
says "export 'nope' does not exist"

# ---- create, and nbdkit serves it ----

expect 0 create e1 --size=2G --page-size=64k
says "created export 'e1'"
expect 1 create e1 --size=1G --page-size=64k
says "exists already"
expect 0 --json create e2 --size=3M --page-size=64k
json 'd["created"] == "e2"' 'd["size"] == 3 << 20' 'd["page-size"] == 65536'
expect 0 --json list
json '[e["name"] for e in d["exports"]] == ["e1", "e2"]' \
     'd["exports"][0]["size"] == 2 << 30' \
     'd["exports"][0]["page-size"] == 65536' \
     'not d["exports"][0]["held"]' 'd["exports"][0]["pages"] == 0'

start_nbds3 page-size=64k size=1M
nbdsh -u "$(uri e1)" -c "
assert h.get_size() == 2 << 30, h.get_size()
P = $P
for page in (0, 1, 2, 3, 16384, 16385, 32767):
    h.pwrite(bytes([page % 251 + 1]) * P, page * P)
h.flush()
" || fail "nbdkit does not serve e1 at 2G"

# ---- While nbdkit holds e1 ----

hold_client w1 "$(uri e1)" 'h.pwrite(b"held", 0); h.flush()'
pid="$(nbdkit_pid)"
expect 0 list
says "e1 .*held by .*pid $pid since "
expect 0 --json info e1
json 'd["held"]' "' pid $pid since ' in d['holder']" 'd["pages"] == 7'
expect 1 delete e1
says "held by a server"
expect 1 resize e1 3G
says "held by a server"
expect 0 verify e1
release_client w1
stop_nbdkit

expect 0 --json list
json 'not d["exports"][0]["held"]' 'd["exports"][0]["holder"] is None' \
     'd["exports"][0]["pages"] == 7'
expect 0 verify e1
says "export 'e1': .* ok"
expect 0 --json verify e1
json 'd["ok"]' 'd["problems"] == []' 'd["pages-read"] == 7'

# ---- resize ----

expect 0 resize e1 3G
says "resized export 'e1' from 2G to 3G"
expect 1 resize e1 1G
says "give --force"
# A tombstone beyond the end goes too (one within it stays).
put_obj e1 "$(page_name 20000 zero)" "b''"
put_obj e1 "$(page_name 2 zero)" "b''"
cut=$((16384 * P + 1000))
expect 0 --json resize e1 "$cut" --force
json 'd["old-size"] == 3 << 30' "d['size'] == $cut"
objects_of e1 >"$tmpdir/objects"
for page in 16385 32767 20000; do
  ! grep -q "page-$(printf %08x $page)" "$tmpdir/objects" ||
    fail "page $page beyond the new end is still stored"
done
grep -q "$(page_name 2 zero)" "$tmpdir/objects" ||
  fail "the tombstone within the new end was removed"
grep -q "$(page_name 16384)" "$tmpdir/objects" ||
  fail "the page the new end cuts was removed"
expect 0 resize e1 2G
start_nbds3 page-size=64k size=1M
nbdsh -u "$(uri e1)" -c "
P = $P
assert h.get_size() == 2 << 30, h.get_size()
assert h.pread(4, 0) == b'held'
assert h.pread(P, P) == bytes([2]) * P
assert h.pread(1000, 16384 * P) == bytes([16384 % 251 + 1]) * 1000
assert h.pread(P - 1000, 16384 * P + 1000) == bytes(P - 1000), 'tail not zero'
assert h.pread(P, 16385 * P) == bytes(P)
" || fail "e1 does not read back after the shrink and grow"
stop_nbdkit
rm_obj e1 "$(page_name 2 zero)"
expect 0 verify e1

# ---- verify finds damage ----

sum="$(checksum_of e1 "$(page_name 1)")"
truncate_obj e1 "$(page_name 1)" 100
put_obj e1 "$(page_name 2)" "bytes([3]) * $P" 00000000
put_obj e1 "$(page_name 3)" "bytes([4]) * $P"
put_obj e1 "$(page_name 4 zero)" "b'x'"
put_obj e1 junk "b'junk'"
expect 1 verify e1
says "^$(page_name 1): page 1 is 100 bytes"
says "^$(page_name 2): .*page 2 is damaged"
says "^$(page_name 3): .*page 3 has no checksum"
says "^$(page_name 4 zero): tombstone of page 4 is 1 bytes"
says "^junk: not an object nbds3 makes"
expect 1 --json verify e1
want="['junk', '$(page_name 1)', '$(page_name 2)', '$(page_name 3)',"
want+=" '$(page_name 4 zero)']"
json 'not d["ok"]' 'len(d["problems"]) == 5' \
     "[p['object'] for p in d['problems']] == $want" \
     "[p.get('page') for p in d['problems']] == [None, 1, 2, 3, 4]"
put_obj e1 "$(page_name 1)" "bytes([2]) * $P" "$sum"
for name in "$(page_name 2)" "$(page_name 3)" "$(page_name 4 zero)" junk; do
  rm_obj e1 "$name"
done
expect 0 verify e1

# ---- delete ----

put_obj e1 clones/x "b''"
expect 0 create x --size=1M     # so that clones/x is not a stale one
expect 1 delete e1
says "base of 1 clone .*'x'"
expect 1 resize e1 1M --force
says "base of 1 clone"
expect 0 info e1
says "clones: +x"
rm_obj e1 clones/x
expect 0 delete x

expect 0 delete e1
says "deleted export 'e1'"
[ -z "$(objects_of e1)" ] || fail "e1 left objects: $(objects_of e1)"
store_export_exists e1 && fail "e1 left something in the store"
expect 1 delete e1

# A clone made by hand: deleting it removes clones/c from its base.
put_obj c nbds3.meta "b'''# nbds3 export metadata: do not edit
version=3
size=3145728
page-size=65536
checksums=required
base=e2
'''"
put_obj e2 clones/c "b''"
# e2 is no snapshot: the plugin would not serve c, and verify says so.
expect 1 verify c
says "its base 'e2' is not read-only"
expect 0 --json info c
json 'd["base"] == "e2"' 'd["base-chain"] == ["e2"]' \
     'd["base-chain-broken"] is None'
expect 0 --json info e2
json 'd["clones"] == ["c"]'
expect 0 delete c
[[ "$(objects_of e2)" != *clones/* ]] || fail "clones/c is still in e2"
expect 0 --json info e2
json 'd["clones"] == []'

# What an interrupted delete leaves: a page without metadata.
put_obj left "$(page_name 0)" "bytes($P)"
expect 1 create left --size=1M --page-size=64k
says "interrupted delete"
expect 0 delete left
says "what was left of export 'left'"
[ -z "$(objects_of left)" ] || fail "left left objects: $(objects_of left)"

# ---- S3: DeleteObjects refused by the server ----

if [ "$STORE" = s3 ]; then
  rules="$tmpdir/faults.jsonl"
  proxy_log="$tmpdir/fault-proxy.log"
  printf '{"id": "nodel", "fault": "fail-status", "method": "POST", %s}\n' \
    '"path": "?delete", "status": 501, "code": "NotImplemented", "times": 100' \
    >"$rules"
  python3 "$srcdir/fault-proxy.py" --upstream "$S3_ENDPOINT" \
    --rules "$rules" --port-file "$tmpdir/proxy.port" --log-requests \
    --max-seconds 300 </dev/null >/dev/null 2>"$proxy_log" &
  proxy_pid=$!
  on_cleanup "kill $proxy_pid 2>/dev/null"
  wait_for 10 test -s "$tmpdir/proxy.port" ||
    fail "the fault proxy did not start: $(cat "$proxy_log")"
  for page in 0 1 2; do
    put_obj e2 "$(page_name $page)" "bytes($P)"
  done
  store_keys_with "endpoint=http://127.0.0.1:$(cat "$tmpdir/proxy.port")"
  info "nbds3 delete e2 (through the proxy)"
  "$tool" "${STORE_KEYS_WITH[@]}" delete e2 ||
    fail "delete without DeleteObjects failed"
  grep -q "^fault-proxy: fault nodel " "$proxy_log" ||
    fail "the tool sent no DeleteObjects"
  n="$(grep -c "DELETE .*exports/e2/" "$proxy_log" || :)"
  [ "$n" -ge 4 ] || fail "the tool sent $n DELETEs, not one per object"
  [ -z "$(objects_of e2)" ] || fail "e2 left objects: $(objects_of e2)"
else
  expect 0 delete e2
fi
expect 0 --json list
json 'd["exports"] == []'

info "ok"
