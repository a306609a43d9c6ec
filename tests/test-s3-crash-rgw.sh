#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Crash consistency with radosgw killed: test-crash.sh with CRASH_KILL=
# radosgw, on a radosgw of the test's own.  In each round, once the
# workload has flushed, radosgw is killed with SIGKILL while a flush is in
# flight (requests cut off mid-PUT, some of them landed without an
# answer), stays down for 0.5 to 3 s, and is started again on its port
# with its data (the OSD keeps running); then nbdkit is killed with SIGKILL
# and restarted, and the pages are checked.
#
# The correct outcome, from the design's durability rules: an outage
# shorter than retry-deadline (60 s here) and cache-wait-timeout (60 s) is
# only delay for the client.  nbds3 retries each cut-off request until
# radosgw answers again (a PUT that landed unanswered is recognised by its
# writer token after a 412), so no write and no flush fails, the workload
# goes on, and two flushes succeed after radosgw's return.  After the
# kill of nbdkit every flush that returned success is durable, and every
# page holds one whole write of its own: flushed <= stored <= written.  A
# flush that returned an error (none should) would be allowed to have
# landed in part, page by page, which the same bounds allow.
STORE=s3 CRASH_KILL=radosgw ROUNDS="${ROUNDS:-2}" \
  exec "$(dirname "$0")/test-crash.sh" "$@"
