#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test-client-death.sh on the S3 store (radosgw behind bench/delay-proxy).
STORE=s3 exec "$(dirname "$0")/test-client-death.sh" "$@"
