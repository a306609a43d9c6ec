#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The S3 store set up as the AWS tools are, and prefix=.
#   a. A HOME whose ~/.aws/config has [profile rgw] with endpoint_url,
#      region and "s3 =\n    addressing_style = path", and whose
#      ~/.aws/credentials has [rgw] with the keys: AWS_PROFILE=rgw and
#      bucket= alone (no endpoint=, region=, addressing= or keys) write,
#      flush, restart and read back.  Without ~/.aws/config nbds3 would go
#      to AWS; without addressing_style = path, to BUCKET.127.0.0.1.
#   b. prefix=: two servers on one bucket, prefix=tenant-a and
#      store=s3://BUCKET/tenant-b (the magic key sets the prefix), each
#      with an export "x" holding its own bytes.  nbdinfo --list on each
#      shows its own exports only, each reads back its own bytes, and
#      boto3 finds every object under PREFIX/exports/ and none outside.

STORE=s3
source "$(dirname "$0")/functions.sh"
require_tools nbdinfo

store_setup
awshome="$tmpdir/home"
mkdir -p "$awshome/.aws"
cat >"$awshome/.aws/config" <<CONFIG
[default]
region = us-west-2

[profile rgw]
region = $S3_REGION
endpoint_url = $S3_ENDPOINT
s3 =
    addressing_style = path
CONFIG
(umask 077 && cat >"$awshome/.aws/credentials" <<CREDS
[rgw]
aws_access_key_id = $S3_ACCESS_KEY
aws_secret_access_key = $S3_SECRET_KEY
CREDS
)

# a. The profile alone.
profile_nbds3 ()
{
  HOME="$awshome" AWS_PROFILE=rgw start_nbdkit main "$NBDS3_PLUGIN" \
    "bucket=$s3_bucket" size=1M page-size=64k cache-size=4M
}
profile_nbds3
# auto is path-style for this endpoint too: the log shows the profile's.
grep -q "s3: addressing path from profile rgw" "$tmpdir/main.log" ||
  fail "s3 addressing_style of profile rgw was not used"
nbdsh -u "$(uri p)" -c 'h.pwrite(b"profile" * 9362, 0); h.flush()'
stop_nbdkit main
profile_nbds3
nbdsh -u "$(uri p)" -c '
assert h.pread(65534, 0) == b"profile" * 9362, "not read back"'
stop_nbdkit main
s3_python 'assert "exports/p/page-00000000.bin" in s3_keys(), s3_keys()'
info "ok: AWS_PROFILE=rgw with ~/.aws/config and ~/.aws/credentials alone"

# b. Two prefixes in one bucket.
start_nbds3_as ta prefix=tenant-a size=1M page-size=64k cache-size=4M
store_keys_with size=1M page-size=64k cache-size=4M
tb_keys=()
for k in "${STORE_KEYS_WITH[@]}"; do
  [ "${k%%=*}" = bucket ] || tb_keys+=("$k")
done
start_nbdkit tb "$NBDS3_PLUGIN" "s3://$s3_bucket/tenant-b/" "${tb_keys[@]}"
nbdsh -u "$(uri x ta)" -c 'h.pwrite(b"A" * 65536, 0); h.flush()'
nbdsh -u "$(uri only-a ta)" -c 'h.pwrite(b"a" * 512, 0); h.flush()'
nbdsh -u "$(uri x tb)" -c 'h.pwrite(b"B" * 65536, 65536); h.flush()'
nbdsh -u "$(uri x ta)" -c '
assert h.pread(131072, 0) == b"A" * 65536 + bytes(65536), "tenant-a x"'
nbdsh -u "$(uri x tb)" -c '
assert h.pread(131072, 0) == bytes(65536) + b"B" * 65536, "tenant-b x"'
la=$(nbdinfo --list --json "$(uri '' ta)" | "$NBD_PYTHON" -c '
import json, sys; print(" ".join(sorted(e["export-name"]
                                  for e in json.load(sys.stdin)["exports"])))')
lb=$(nbdinfo --list --json "$(uri '' tb)" | "$NBD_PYTHON" -c '
import json, sys; print(" ".join(sorted(e["export-name"]
                                  for e in json.load(sys.stdin)["exports"])))')
[ "$la" = "only-a x" ] || fail "tenant-a lists '$la', not 'only-a x'"
[ "$lb" = "x" ] || fail "tenant-b lists '$lb', not 'x'"
stop_nbdkit ta
stop_nbdkit tb
s3_python '
keys = s3_keys()
want = {"exports/p/page-00000000.bin", "exports/p/nbds3.meta",
        "exports/p/nbds3.lease",
        "tenant-a/exports/x/nbds3.meta", "tenant-a/exports/x/nbds3.lease",
        "tenant-a/exports/x/page-00000000.bin",
        "tenant-a/exports/only-a/nbds3.meta",
        "tenant-a/exports/only-a/nbds3.lease",
        "tenant-a/exports/only-a/page-00000000.bin",
        "tenant-b/exports/x/nbds3.meta", "tenant-b/exports/x/nbds3.lease",
        "tenant-b/exports/x/page-00000001.bin"}
extra = {k for k in set(keys) - want if ".nbds3-probe-" not in k}
probes = [k for k in keys if ".nbds3-probe-" in k]
assert not extra and want <= set(keys), \
    "extra %s, missing %s" % (sorted(extra), sorted(want - set(keys)))
assert all(k.split("/")[0] in ("tenant-a", "tenant-b", "exports")
           and "/exports/.nbds3-probe-" in "/" + k for k in probes), probes
assert s3_get("tenant-b/exports/x/page-00000001.bin")[:4] == b"BBBB"
print("%d objects, each under its own prefix" % len(keys))
'
info "ok: prefix= and s3://BUCKET/PREFIX keep two tenants apart"
