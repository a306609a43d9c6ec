/* SPDX-License-Identifier: MIT
 *
 * The sizing rule of requests in flight (inflight.h).  Everything in
 * flight is a page buffer inside cache-size, so the rule aims at a number
 * of bytes, by default a quarter of the budget: small pages get many
 * requests, large pages few.  connections= caps the count (auto: 64), and
 * there is always at least one.  The read reserve is a quarter of the
 * bytes in flight, in whole requests, at least one.  Read-ahead reaches
 * as far as the byte target, but no further than twice what the requests
 * carry at once (more would only wait in the queue), and never less than
 * one page per request.  Pure: no state, no locks.
 */

#include <config.h>

#include "inflight.h"

void
inflight_plan (uint64_t page_size, uint64_t budget, uint64_t target,
               unsigned cap, struct inflight_plan *plan)
{
  uint64_t bytes = target ? target : budget / 4;
  uint64_t n = bytes / page_size, ahead;

  if (cap == 0)
    cap = INFLIGHT_AUTO_CAP;
  if (n > cap)
    n = cap;
  if (n < 1)
    n = 1;
  ahead = 2 * n * page_size;
  if (ahead > bytes)
    ahead = bytes;
  plan->target_bytes = bytes;
  plan->requests = n;
  plan->read_reserve = n / 4 ? n / 4 : 1;
  plan->readahead_pages = ahead / page_size > n ? ahead / page_size : n;
}

uint64_t
inflight_min_cache (uint64_t page_size, unsigned requests)
{
  return page_size * (2 * (uint64_t) requests + 4);
}
