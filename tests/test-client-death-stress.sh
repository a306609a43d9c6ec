#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make check-stress: test-client-death.sh with default threads whatever
# the nbdkit version, ROUNDS (default 30) rounds of each death.  On an
# nbdkit affected by the reset abort (1.32.4 to 1.33.9) each abort must be
# exactly that assertion, and the count is reported as a known nbdkit bug;
# any other death, lost data or a wrong reply to another client fails.
DEATH_PARALLEL=1 DEATH_ROUNDS="${ROUNDS:-30}" \
  exec "$(dirname "$0")/test-client-death.sh" "$@"
