#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test-snapshot-hostile.sh on the S3 store (radosgw from tests/s3-server.sh).
STORE=s3 exec "$(dirname "$0")/test-snapshot-hostile.sh" "$@"
