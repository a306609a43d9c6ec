/* SPDX-License-Identifier: MIT
 *
 * How many store requests are in flight at once, and how far ahead a
 * sequential reader is read: sized by bytes, not by a fixed count
 * (inflight.c).  Pure, so that config_complete checks exactly what the
 * cache will do.
 */

#ifndef NBDS3_INFLIGHT_H
#define NBDS3_INFLIGHT_H

#include <stdint.h>

/* connections=auto: as many requests as the byte target allows, up to
 * this many.
 */
#define INFLIGHT_AUTO_CAP 64

struct inflight_plan {
  uint64_t target_bytes;        /* bytes in flight aimed at */
  unsigned requests;            /* store requests in flight, at most */
  unsigned read_reserve;        /* ... of which write-back leaves to
                                   reads while reads wait */
  uint64_t readahead_pages;     /* read-ahead depth, in pages */
};

/* The plan for pages of PAGE_SIZE bytes in a cache of BUDGET bytes with
 * the byte target TARGET (0: a quarter of BUDGET) and at most CAP
 * requests (0: auto, INFLIGHT_AUTO_CAP).
 */
extern void inflight_plan (uint64_t page_size, uint64_t budget,
                           uint64_t target, unsigned cap,
                           struct inflight_plan *plan);

/* The smallest cache that REQUESTS requests in flight work in: a buffer
 * for each page in flight, one for a writer's copy of each, and four.
 */
extern uint64_t inflight_min_cache (uint64_t page_size, unsigned requests);

#endif /* NBDS3_INFLIGHT_H */
