#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Verified pages: every page carries a checksum written with it and checked
# on every read.  Export "vp" (64k pages) has pages 0 and 1 stored; with
# nbdkit stopped, one bit of page 0 is flipped in the store, keeping the
# checksum stored with it (FS: the file's extended attribute; S3: the
# object's user metadata), and page 2 is stored without a checksum.  Then:
#   - reading page 0 fails with EIO, and so does a 512-byte write into it
#     (which must fetch it), so the damage is never served nor made
#     permanent: the stored page keeps its flipped bit, no more;
#   - page 1 reads as written;
#   - page 2 fails (the export records checksums=required);
#   - the log names the export and the pages.
# Before checksums, the flipped page was served and a partial write put
# the damage back into the store as the page's new, valid content.

source "$(dirname "$0")/functions.sh"

P=65536
start_nbds3 size=4M page-size=64k cache-size=4M
nbdsh -u "$(uri vp)" -c "h.pwrite(b'A' * $P + b'B' * $P, 0); h.flush()"
stop_nbdkit

# damage PAGE: flip bit 0 of byte 1000, keeping the stored checksum.
# unsummed PAGE: store PAGE (all 'C') without a checksum.
case "$STORE" in
  fs)
    page_file () { printf '%s/exports/vp/page-%08x.bin' "$data_dir" "$1"; }
    damage () {
      python3 -c 'import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(1000); b = f.read(1); f.seek(1000); f.write(bytes([b[0] ^ 1]))
' "$(page_file "$1")"
    }
    unsummed () { python3 -c "open('$(page_file "$1")', 'wb').write(b'C' * $P)"; }
    stored () { cat "$(page_file "$1")"; }
    ;;
  s3)
    key () { printf 'exports/vp/page-%08x.bin' "$1"; }
    damage () {
      s3_python '
import sys
key = sys.argv[1]
o = s3.get_object(Bucket=bucket, Key=key)
body = bytearray(o["Body"].read())
body[1000] ^= 1
s3.put_object(Bucket=bucket, Key=key, Body=bytes(body), Metadata=o["Metadata"])
' "$(key "$1")"
    }
    unsummed () {
      s3_python "s3.put_object(Bucket=bucket, Key='$(key "$1")', Body=b'C' * $P)"
    }
    stored () {
      s3_python 'import sys; sys.stdout.buffer.write(s3_get(sys.argv[1]))' \
        "$(key "$1")"
    }
    ;;
esac
damage 0
unsummed 2
stored 0 >"$tmpdir/page0.damaged"

start_nbds3 size=4M page-size=64k cache-size=4M
nbdsh -u "$(uri vp)" -c "
P = $P
def fails(what, fn):
    try:
        fn()
    except nbd.Error as e:
        assert '(EIO)' in str(e), '%s: %s, not EIO' % (what, e)
        print('%s failed: %s' % (what, e))
        return
    raise SystemExit('%s succeeded on a damaged page' % what)
fails('read of damaged page 0', lambda: h.pread(P, 0))
fails('partial write of damaged page 0', lambda: h.pwrite(b'x' * 512, 0))
assert h.pread(P, P) == b'B' * P, 'page 1 does not read as written'
fails('read of page 2 without checksum', lambda: h.pread(P, 2 * P))
h.flush()
" || fail "a damaged page was served"
stop_nbdkit
stored 0 | cmp -s - "$tmpdir/page0.damaged" ||
  fail "page 0 changed in the store: the damage was written back"

log="$(nbdkit_log)"
grep -q "export 'vp' page 0 is damaged" "$log" ||
  fail "the log does not name damaged page 0 of export vp"
grep -q "export 'vp' page 2 has no checksum" "$log" ||
  fail "the log does not name page 2 of export vp, stored without checksum"

info "ok: damaged pages fail with EIO and are never served or written back"
