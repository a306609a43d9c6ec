/* SPDX-License-Identifier: MIT
 *
 * The shared, bounded, write-back page cache between nbdkit's callbacks
 * and a page store.  One cache per process holds the pages of every open
 * export under one memory budget; see pagecache.c for the rules.
 */

#ifndef NBDS3_PAGECACHE_H
#define NBDS3_PAGECACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

struct pagecache_config {
  uint32_t page_size;           /* bytes per page, a power of two */
  uint64_t budget;              /* bytes of page buffers, at most */
  unsigned connections;         /* store requests in flight, at most
                                   (0: auto); see inflight.h */
  uint64_t inflight_bytes;      /* bytes in flight aimed at (0: a
                                   quarter of budget) */
  unsigned wait_timeout;        /* seconds a writer waits for memory */
  unsigned shutdown_timeout;    /* seconds for the final write-back */
  const char *stats_file;       /* absolute path of the statistics file
                                   (stats.c), or NULL; kept until
                                   pagecache_free */
};

struct pc_export;

/* Set up the cache.  No threads yet.  0 or -1. */
extern int pagecache_init (const struct pagecache_config *config);

/* Start the worker threads (nbdkit's .after_fork).  0 or -1. */
extern int pagecache_start (void);

/* nbdkit is shutting down (SIGTERM/SIGINT): log how many dirty pages of
 * how many exports are to be written back, start the shutdown-timeout
 * clock, and end the waits of clients' flushes and writes (they fail with
 * ESHUTDOWN, so that their connections close and nbdkit can call
 * .cleanup).  Then wait: if the final write-back (pagecache_shutdown) has
 * not finished at the deadline, cancel every store request still in
 * flight.  For a thread of its own; more calls return at once.
 */
extern void pagecache_begin_shutdown (void);

/* Write back every open export by the shutdown deadline (shutdown-timeout
 * from pagecache_begin_shutdown, or from now), naming every page that
 * could not be written with its error and ending with one summary line,
 * then stop the workers.  Exports stay open (and must then be closed with
 * pagecache_close_export).  Returns 0 if everything was written back, -1
 * otherwise.
 */
extern int pagecache_shutdown (void);

/* For an export opened as new (EXISTS false) that turned out to exist
 * before anything was written to it: list its stored pages into the page
 * index.  Only while the cache holds none of its pages (else -1, EIO).
 * 0, or -1 after nbdkit_error.
 */
extern int pagecache_list_stored (struct pc_export *e);

/* Forget what E caches and list its stored pages anew (another process
 * may have written the export meanwhile): for an export whose guard was
 * released and taken again.  Only without dirty pages (else -1, EIO).
 * 0, or -1 after nbdkit_error.
 */
extern int pagecache_refresh (struct pc_export *e);

/* Free the cache; every export must be closed. */
extern void pagecache_free (void);

/* Open a cache for the store export STORE of SIZE bytes in pages of
 * PAGE_SIZE bytes.  If EXISTS, fills the page index with one listing of
 * the store.  NULL on error.
 */
extern struct pc_export *pagecache_open_export (struct store_export *store,
                                                const char *name,
                                                uint64_t size,
                                                uint32_t page_size,
                                                bool exists);

/* Is E at rest: nothing dirty, nothing being written back or fetched?
 * An export at rest with no connection can be closed at no cost but the
 * listing of a later open.
 */
extern bool pagecache_export_idle (struct pc_export *e);

/* Write back every dirty page (within the shutdown timeout) and free the
 * export's cache; does not close the store export.  Returns 0 if
 * everything was written, otherwise names the pages not written (their
 * changes are lost) and returns -1.
 */
extern int pagecache_close_export (struct pc_export *e);

/* The nbdkit data path.  All return 0 or -1 with errno set and the error
 * reported.  Ranges must lie within the export.
 */
extern int pagecache_read (struct pc_export *e, void *buf,
                           uint32_t count, uint64_t offset);
extern int pagecache_write (struct pc_export *e, const void *buf,
                            uint32_t count, uint64_t offset, bool fua);
/* Zero a range: whole pages become holes, partial pages are zeroed in
 * the cache.  With FAST, fail with ENOTSUP instead of fetching a page.
 */
extern int pagecache_zero (struct pc_export *e, uint32_t count,
                           uint64_t offset, bool fast, bool fua);
/* Trim: whole pages become holes; partial pages are left alone. */
extern int pagecache_trim (struct pc_export *e, uint32_t count,
                           uint64_t offset, bool fua);
extern int pagecache_flush (struct pc_export *e);
/* Start fetching the pages of a range that are not cached (.cache). */
extern int pagecache_prefetch (struct pc_export *e, uint32_t count,
                               uint64_t offset);

/* Call FN for runs of pages within [offset, offset+count): DATA true for
 * pages that exist, false for holes.  Stops early if FN returns -1.
 */
extern int pagecache_extents (struct pc_export *e, uint32_t count,
                              uint64_t offset,
                              int (*fn) (void *opaque, uint64_t offset,
                                         uint64_t length, bool data),
                              void *opaque);

/* Statistics, for debug output, the statistics file and tests: the
 * counters (since the cache started, or the export opened) and the state
 * now (dirty_pages and after).  Counted per export and in total; buffer
 * memory (used_bytes, peak_bytes) only in total.
 */
struct pagecache_stats {
  uint64_t hits, misses, fetches, prefetches;
  uint64_t puts, deletes, zero_pages, retries, errors, evictions;
  uint64_t bytes_up, bytes_down;
  uint64_t dirty_pages, inflight_pages, cached_pages, used_bytes, peak_bytes;
};
extern void pagecache_get_stats (struct pagecache_stats *stats);
extern void pagecache_log_stats (const char *why);

#endif /* NBDS3_PAGECACHE_H */
