/* SPDX-License-Identifier: MIT
 *
 * The fixture of the page cache's unit tests (check_pagecache.c,
 * check_zero_pages.c): one cache on a memstore with one open export "e"
 * of 64 pages of PS bytes, and the small helpers they share.  Each test
 * starts it (start_cache, or start_store_only, memstore_put and
 * open_existing) and ends with stop_cache.
 */

#ifndef NBDS3_CHECK_CACHE_H
#define NBDS3_CHECK_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "memstore.h"
#include "pagecache.h"

#define PS 4096u

extern struct memstore *ms;
extern struct store_export *sx;
extern struct pc_export *ex;
extern const char *stats_file;  /* for open_cache */

/* Start the cache on the memstore MS with an open export "e". */
extern void open_cache (uint64_t budget_pages, unsigned connections,
                        unsigned wait_timeout, bool exists);
/* Close the export in the cache, then in the store. */
extern void close_export (void);
/* For tests that store pages before the cache opens the export. */
extern void start_store_only (void);
extern void open_existing (uint64_t budget_pages, unsigned connections);
extern void start_cache (uint64_t budget_pages, unsigned connections,
                         unsigned wait_timeout, bool exists);
extern void stop_cache (void);

extern void fill (char *buf, char c);
extern void sleep_ms (unsigned ms_);
/* Page PAGE is stored and all C. */
extern void assert_stored (uint32_t page, char c);
/* pagecache_flush (ex) in a thread: pthread_create's start routine. */
extern void *flush_thread (void *arg);
/* Wait (up to 5 s) until N mutations wait at the memstore's gate. */
extern void wait_for_gate (unsigned n);

/* pagecache_extents' callback: appends to the array its opaque (a
 * struct extent **) points into.
 */
struct extent {
  uint64_t offset, length;
  bool data;
};
extern int collect_extent (void *opaque, uint64_t offset, uint64_t length,
                           bool data);

#endif /* NBDS3_CHECK_CACHE_H */
