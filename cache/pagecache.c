/* SPDX-License-Identifier: MIT
 *
 * The page cache: one per process, shared by every connection and every
 * export, holding page buffers within one memory budget.  This file is
 * its top: setting the cache up, opening exports and the data path
 * (reads, writes, zeroes, trims, extents, and when to fetch or read
 * ahead), using writeback.c (store work: loading pages, the workers,
 * write-back and flush) and pages.c (the page table and the budget).  The
 * rules that bind them:
 *
 * One mutex, cache.lock, guards all of it, including page contents: data
 * is copied in and out of page buffers with the lock held, and the lock is
 * never held across store I/O.  Instead a page carries its state, and
 * whoever must wait for it waits on cache.changed, then looks the page up
 * again by index (page structs may be freed while the lock is dropped).
 *
 *   absent ──read/partial write of a stored page──▶ LOADING ──▶ clean
 *   absent ──write (no fetch needed)──────────────▶ dirty
 *   clean ──write──▶ dirty ──worker: PUT/DELETE──▶ INFLIGHT ──ok──▶ clean
 *                              ▲                     │ failed: stays dirty,
 *                              └── retry / flush ────┘ retried later
 *   any ──trim/zero whole page──▶ TOMBSTONE (no buffer, dirty) ──DELETE──▶
 *                                  absent (a hole)
 *   dirty, all zeros ──worker: DELETE (if stored), else no request──▶
 *                       absent (a hole)
 *   clean ──LRU eviction under memory pressure──▶ absent
 *   dirty, built from zeros ──PUT: EEXIST──▶ MERGE owed ──worker: fetch,
 *     (index said absent)       (stored      (INFLIGHT)  lay what was
 *                               after all)               written over it
 *                                                        ──▶ dirty, queued
 *
 * Invariants:
 * - A page is dirty when gen > durable_gen.  gen comes from a counter per
 *   export, so a flush can remember (index, gen) pairs and know a page is
 *   durable when it is absent or its durable_gen has caught up.
 * - An absent page exists in the store exactly when its index bit is set;
 *   for a present page, the bit says whether it holds data (not a hole).
 *   A page that is all zeros when written back is stored as absent, like
 *   a tombstone: once that is done and it has not changed since, its bit
 *   is cleared and it leaves the cache.
 * - At most one mutation per page is in flight (INFLIGHT); a PUT sends
 *   inflight_buf, which a writer never modifies: it copies the page first.
 * - Every page buffer (cached, dirty, in flight, loading, pooled) counts
 *   against the budget in cache.used.
 * - A page built from zeros because the index said it was absent maps the
 *   bytes written into it since (written, written.h) until it is stored,
 *   written whole or trimmed.  Only when its PUT proves the index wrong
 *   (the store holds the page after all, EEXIST in store.h) does it owe a
 *   merge (merge): its next attempt fetches the stored page and lays just
 *   the mapped bytes over it, and only then is it PUT (until then reads
 *   see it as it was built).  Without a map every byte is the client's
 *   and the page is PUT as it is.  A zero or trim of a page the index
 *   calls a hole does nothing, so it is not mapped: a merge keeps only
 *   what was written into the page.
 *
 * pc_page_check (pages.c) asserts what of this one page's state shows,
 * after each change of it, unless NDEBUG (product builds) is defined.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-plugin.h>

#include "cleanup.h"
#include "pagecache-impl.h"

/* Fetch page INDEX, which exists in the store and is absent, in the
 * foreground.  May drop the lock; returns 0 when the caller should look
 * the page up again, -1 on error.
 */
static int
fetch_page (struct pc_export *e, uint32_t index)
{
  void *buf = pc_buf_get (true);
  struct page *p;

  if (buf == NULL)
    return -1;
  if (pc_page_lookup (e, index) || !pageindex_get (&e->index, index)) {
    pc_buf_put (buf);              /* the page changed while we waited */
    return 0;
  }
  p = pc_page_new (e, index);
  if (p == NULL) {
    pc_buf_put (buf);
    errno = ENOMEM;
    return -1;
  }
  p->buf = buf;
  p->loading = true;
  p->stored = true;
  PC_COUNT (e, misses, 1);
  return pc_load_page (p, true);
}

/* Start fetching absent, stored page INDEX in the background, if memory
 * allows without waiting.
 */
static void
prefetch_page (struct pc_export *e, uint32_t index)
{
  struct page *p;
  void *buf;

  if (pc_page_lookup (e, index) || !pageindex_get (&e->index, index))
    return;
  buf = pc_buf_get (false);
  if (buf == NULL)
    return;
  p = pc_page_new (e, index);
  if (p == NULL) {
    pc_buf_put (buf);
    return;
  }
  p->buf = buf;
  p->loading = p->stored = true;
  p->queued = true;
  list_add_tail (&cache.fetches, &p->queue);
  pc_page_check (p);
  PC_COUNT (e, prefetches, 1);
  pthread_cond_signal (&cache.work);
}

/* Page P is loading: wait for the fetch, or if it is read-ahead still
 * waiting in the queue, fetch it now in the foreground rather than wait
 * behind write-back.  The caller looks the page up again after.  0, or
 * -1 if the fetch failed.
 */
static int
wait_for_load (struct page *p)
{
  if (p->queued) {
    list_del (&p->queue);
    p->queued = false;
    return pc_load_page (p, true);
  }
  pthread_cond_wait (&cache.changed, &cache.lock);
  return 0;
}

int
pagecache_init (const struct pagecache_config *config)
{
  if (pc_pages_init (config) == -1 || pc_writeback_init () == -1)
    return -1;
  return 0;
}

void
pagecache_free (void)
{
  pc_writeback_free ();
  pc_pages_free ();
}

static int
index_add (void *opaque, uint32_t page)
{
  struct pc_export *e = opaque;

  if (page >= e->npages)
    return 0;                   /* beyond the end: never read */
  return pageindex_set (&e->index, page);
}

/* index_add for an export in use: under cache.lock. */
static int
index_add_locked (void *opaque, uint32_t page)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&cache.lock);

  return index_add (opaque, page);
}

int
pagecache_list_stored (struct pc_export *e)
{
  pthread_mutex_lock (&cache.lock);
  if (e->npresent > 0) {
    pthread_mutex_unlock (&cache.lock);
    nbdkit_error ("cache: export '%s' already has pages in the cache: its "
                  "stored pages cannot be listed into it now", e->name);
    errno = EIO;
    return -1;
  }
  pthread_mutex_unlock (&cache.lock);
  if (store_list_pages (e->store, index_add_locked, e) == -1)
    return -1;
  nbdkit_debug ("cache: export '%s': %" PRIu64 " stored pages listed again",
                e->name, e->index.count);
  return 0;
}

static int
index_add_to (void *opaque, uint32_t page)
{
  struct pageindex *idx = opaque;

  if (page >= idx->npages)
    return 0;                   /* beyond the end: never read */
  return pageindex_set (idx, page);
}

int
pagecache_refresh (struct pc_export *e)
{
  struct pageindex fresh;

  if (pageindex_init (&fresh, e->npages) == -1) {
    nbdkit_error ("cache: out of memory refreshing export '%s'", e->name);
    errno = ENOMEM;
    return -1;
  }
  if (store_list_pages (e->store, index_add_to, &fresh) == -1) {
    pageindex_free (&fresh);
    return -1;
  }
  pthread_mutex_lock (&cache.lock);
  if (!list_empty (&e->dirty)) {
    pthread_mutex_unlock (&cache.lock);
    pageindex_free (&fresh);
    nbdkit_error ("cache: export '%s' has dirty pages: not refreshed",
                  e->name);
    errno = EIO;
    return -1;
  }
  for (size_t b = 0; b < e->nbuckets; ++b)
    for (struct page *p = e->buckets[b], *next; p; p = next) {
      next = p->hash_next;
      if (!p->loading && !p->inflight)
        pc_page_remove (p);
    }
  pageindex_free (&e->index);
  e->index = fresh;
  pthread_mutex_unlock (&cache.lock);
  nbdkit_debug ("cache: export '%s' refreshed: %" PRIu64 " stored pages",
                e->name, fresh.count);
  return 0;
}

struct pc_export *
pagecache_open_export (struct store_export *store, const char *name,
                       uint64_t size, uint32_t psize, bool exists)
{
  struct pc_export *e = calloc (1, sizeof *e);

  if (e == NULL)
    goto nomem;
  e->store = store;
  e->size = size;
  e->npages = (size + psize - 1) / psize;
  e->nbuckets = 64;
  e->buckets = calloc (e->nbuckets, sizeof *e->buckets);
  e->name = strdup (name);
  list_init (&e->dirty);
  if (e->buckets == NULL || e->name == NULL ||
      pageindex_init (&e->index, e->npages) == -1)
    goto nomem;
  if (exists &&
      store_list_pages (store, index_add, e) == -1)
    goto err;
  nbdkit_debug ("cache: opened export '%s': %" PRIu64 " bytes, %" PRIu64
                " pages, %" PRIu64 " stored", name, size, e->npages,
                e->index.count);
  pthread_mutex_lock (&cache.lock);
  list_add_tail (&cache.exports, &e->link);
  pthread_mutex_unlock (&cache.lock);
  return e;

 nomem:
  nbdkit_error ("cache: out of memory opening export '%s'", name);
 err:
  if (e) {
    pageindex_free (&e->index);
    free (e->buckets);
    free (e->name);
    free (e);
  }
  return NULL;
}

/* Is a page of E being fetched?  cache.lock held. */
static bool
export_loading (const struct pc_export *e)
{
  for (size_t b = 0; b < e->nbuckets; ++b)
    for (const struct page *p = e->buckets[b]; p; p = p->hash_next)
      if (p->loading)
        return true;
  return false;
}

bool
pagecache_export_idle (struct pc_export *e)
{
  bool idle;

  pthread_mutex_lock (&cache.lock);
  idle = e->ndirty == 0 && e->ninflight == 0 && !e->syncing &&
    !export_loading (e);
  pthread_mutex_unlock (&cache.lock);
  return idle;
}

int
pagecache_close_export (struct pc_export *e)
{
  int64_t deadline = clock_now_ns () + cache.cfg.shutdown_timeout * NS_PER_SEC;
  int r;

  pthread_mutex_lock (&cache.lock);
  /* After pagecache_shutdown no worker runs: it wrote back what it could
   * and named the rest.
   */
  r = cache.final_done ? 0 : pc_flush_export_until (e, deadline, true);
  /* Wait for read-ahead and anything else in flight to finish. */
  for (;;) {
    bool busy = false;
    for (size_t b = 0; b < e->nbuckets && !busy; ++b)
      for (struct page *p = e->buckets[b]; p && !busy; p = p->hash_next)
        busy = p->loading || p->inflight;
    if (!busy)
      break;
    pthread_cond_wait (&cache.changed, &cache.lock);
  }
  for (size_t b = 0; b < e->nbuckets; ++b)
    while (e->buckets[b])
      pc_page_remove (e->buckets[b]);
  list_del (&e->link);
  pthread_mutex_unlock (&cache.lock);

  pagecache_log_stats (e->name);
  pageindex_free (&e->index);
  free (e->buckets);
  free (e->name);
  free (e);
  return r;
}

/* Copy N bytes at OFF of page INDEX to OUT. */
static int
read_part (struct pc_export *e, uint32_t index, uint32_t off, uint32_t n,
           char *out)
{
  for (;;) {
    struct page *p = pc_page_lookup (e, index);

    if (p == NULL) {
      if (!pageindex_get (&e->index, index)) {
        memset (out, 0, n);     /* a hole */
        return 0;
      }
      if (fetch_page (e, index) == -1)
        return -1;
      continue;
    }
    if (p->loading) {
      if (wait_for_load (p) == -1)
        return -1;
      continue;
    }
    if (p->buf == NULL)
      memset (out, 0, n);       /* a tombstone */
    else {
      memcpy (out, (char *) p->buf + off, n);
      pc_lru_touch (p);
    }
    PC_COUNT (e, hits, 1);
    return 0;
  }
}

/* Detect a sequential reader and fetch the pages ahead of it, as far as
 * the plan's read-ahead depth (inflight.h) reaches.  A reader
 * with several requests in flight sees them complete out of order, so a
 * read that starts within one window of where the stream has got to
 * continues it; anything further away starts a new stream.
 */
static void
read_ahead (struct pc_export *e, uint32_t first, uint32_t last)
{
  uint64_t window = cache.plan.readahead_pages;
  bool continues;

  continues = first + window >= e->ra_next && first <= e->ra_next + window;
  if (continues) {
    e->ra_streak++;
    if (e->ra_next < (uint64_t) last + 1)
      e->ra_next = (uint64_t) last + 1;
  }
  else {
    e->ra_streak = 0;
    e->ra_high = last;
    e->ra_next = (uint64_t) last + 1;
  }
  if (e->ra_streak < 2)
    return;
  if (e->ra_high < last)
    e->ra_high = last;
  while (e->ra_high + 1 < e->ra_next + window && e->ra_high + 1 < e->npages)
    prefetch_page (e, ++e->ra_high);
}

int
pagecache_read (struct pc_export *e, void *buf, uint32_t count,
                uint64_t offset)
{
  uint32_t first = offset >> cache.page_shift;
  uint32_t last = (offset + count - 1) >> cache.page_shift;
  char *out = buf;
  int r = 0;

  if (count == 0)
    return 0;
  pthread_mutex_lock (&cache.lock);
  while (count > 0 && r == 0) {
    uint32_t off = offset & (pc_page_size () - 1);
    uint32_t n = pc_page_size () - off < count ? pc_page_size () - off : count;

    r = read_part (e, offset >> cache.page_shift, off, n, out);
    out += n;
    offset += n;
    count -= n;
  }
  if (r == 0)
    read_ahead (e, first, last);
  pthread_mutex_unlock (&cache.lock);
  return r;
}

int
pagecache_prefetch (struct pc_export *e, uint32_t count, uint64_t offset)
{
  uint32_t first = offset >> cache.page_shift;
  uint32_t last = (offset + count - 1) >> cache.page_shift;

  if (count == 0)
    return 0;
  pthread_mutex_lock (&cache.lock);
  for (uint64_t i = first; i <= last; ++i)
    prefetch_page (e, i);
  pthread_mutex_unlock (&cache.lock);
  return 0;
}

/* Write N bytes at OFF of page INDEX from IN, or zeroes if IN is NULL.
 * With FAST, fail with ENOTSUP rather than fetch the page.
 */
static int
write_part (struct pc_export *e, uint32_t index, uint32_t off, uint32_t n,
            const char *in, bool fast)
{
  bool full = off == 0 && n == pc_page_size ();
  struct written *map = NULL;
  void *spare = NULL;
  int r = -1;

  for (;;) {
    struct page *p = pc_page_lookup (e, index);
    bool stored = pageindex_get (&e->index, index);

    if (p && p->loading) {
      if (wait_for_load (p) == -1)
        break;
      continue;
    }
    if (in == NULL && (p == NULL ? !stored : p->buf == NULL)) {
      r = 0;                    /* zeroing a hole: nothing to do */
      break;
    }
    if (p == NULL && stored && !full) {
      if (fast) {
        errno = ENOTSUP;
        break;
      }
      if (fetch_page (e, index) == -1)
        break;
      continue;
    }
    if ((p == NULL || p->buf == NULL || p->buf == p->inflight_buf) &&
        spare == NULL) {
      spare = pc_buf_get (true);
      if (spare == NULL)
        break;
      continue;                 /* the lock was dropped: look again */
    }
    /* Built from zeros because the index says absent: keep which bytes
     * are written, for a merge if the store holds the page after all.
     */
    if (p == NULL && !stored && !full &&
        ((map = written_new (pc_page_size ())) == NULL ||
         written_mark (map, off, n) == -1)) {
      errno = ENOMEM;
      break;
    }
    if (p && p->written && !full && written_mark (p->written, off, n) == -1)
      break;
    if (p == NULL) {
      p = pc_page_new (e, index);
      if (p == NULL) {
        errno = ENOMEM;
        break;
      }
      p->stored = stored;
      p->written = map;
      map = NULL;
    }
    if (full)
      pc_forget_written (p);
    if (p->buf == NULL) {       /* new page or tombstone */
      p->buf = spare;
      spare = NULL;
      p->tombstone = false;
      if (!full) {
        memset (p->buf, 0, off);
        memset ((char *) p->buf + off + n, 0, pc_page_size () - off - n);
      }
    }
    else if (p->buf == p->inflight_buf) {       /* copy on write */
      if (!full)
        memcpy (spare, p->buf, pc_page_size ());
      p->buf = spare;
      spare = NULL;
    }
    if (in)
      memcpy ((char *) p->buf + off, in, n);
    else
      memset ((char *) p->buf + off, 0, n);
    if (pageindex_set (&e->index, index) == -1) {
      nbdkit_error ("cache: out of memory for the page index");
      errno = ENOMEM;
      break;
    }
    pc_mark_dirty (p);
    if (off <= p->filled && off + n > p->filled)
      p->filled = off + n;      /* filled in order from the start */
    pc_page_check (p);
    /* A sequential writer has filled the page: upload it now. */
    if (off + n == pc_page_size () && p->filled == pc_page_size ())
      pc_queue_page (p);
    r = 0;
    break;
  }
  if (spare)
    pc_buf_put (spare);
  written_free (map);
  return r;
}

/* Turn page INDEX into a hole. */
static void
punch_page (struct pc_export *e, uint32_t index)
{
  for (;;) {
    struct page *p = pc_page_lookup (e, index);

    if (p && p->loading) {
      wait_for_load (p);        /* trim is advisory: go on regardless */
      continue;
    }
    if (p == NULL) {
      if (!pageindex_get (&e->index, index))
        return;                 /* a hole already */
      p = pc_page_new (e, index);
      if (p == NULL)
        return;                 /* trim is advisory */
      p->stored = true;
    }
    if (p->buf && p->buf != p->inflight_buf)
      pc_buf_put (p->buf);
    p->buf = NULL;
    p->tombstone = true;
    p->filled = 0;
    pc_forget_written (p);
    pageindex_clear (&e->index, index);
    pc_mark_dirty (p);
    if (!p->stored && !p->inflight)
      pc_mark_clean (p);           /* nothing in the store to delete */
    return;
  }
}

/* Apply WRITE_PART to partial pages and, for whole pages, either write
 * (IN set) or punch them (IN NULL, used by zero and trim).
 */
static int
update_range (struct pc_export *e, const char *in, uint32_t count,
              uint64_t offset, bool punch_partial_skip, bool fast, bool fua)
{
  uint64_t start = offset;
  uint32_t total = count;
  int r = 0;

  if (count == 0)
    return 0;
  pthread_mutex_lock (&cache.lock);
  while (count > 0 && r == 0) {
    uint32_t index = offset >> cache.page_shift;
    uint32_t off = offset & (pc_page_size () - 1);
    uint32_t n = pc_page_size () - off < count ? pc_page_size () - off : count;

    if (in == NULL && n == pc_page_size ())
      punch_page (e, index);
    else if (in || !punch_partial_skip)
      r = write_part (e, index, off, n, in, fast);
    if (in)
      in += n;
    offset += n;
    count -= n;
  }
  if (cache.ndirty * (uint64_t) pc_page_size () * 100 >
      cache.cfg.budget * DIRTY_WATERMARK)
    pc_schedule_background (false);
  if (r == 0 && fua)
    r = pc_flush_range (e, total, start);
  pthread_mutex_unlock (&cache.lock);
  return r;
}

int
pagecache_write (struct pc_export *e, const void *buf, uint32_t count,
                 uint64_t offset, bool fua)
{
  return update_range (e, buf, count, offset, false, false, fua);
}

int
pagecache_zero (struct pc_export *e, uint32_t count, uint64_t offset,
                bool fast, bool fua)
{
  return update_range (e, NULL, count, offset, false, fast, fua);
}

int
pagecache_trim (struct pc_export *e, uint32_t count, uint64_t offset,
                bool fua)
{
  return update_range (e, NULL, count, offset, true, false, fua);
}

int
pagecache_extents (struct pc_export *e, uint32_t count, uint64_t offset,
                   int (*fn) (void *opaque, uint64_t offset,
                              uint64_t length, bool data),
                   void *opaque)
{
  uint64_t end = offset + count;
  uint64_t page = offset >> cache.page_shift;
  uint64_t last = (end - 1) >> cache.page_shift;

  if (count == 0)
    return 0;
  pthread_mutex_lock (&cache.lock);
  while (page <= last) {
    bool data = pageindex_get (&e->index, page);
    uint64_t next = pageindex_find (&e->index, page + 1, last + 1, !data);
    uint64_t from = page << cache.page_shift;
    uint64_t to = next << cache.page_shift;

    if (from < offset)
      from = offset;
    if (to > end)
      to = end;
    if (to > e->size)
      to = e->size;
    pthread_mutex_unlock (&cache.lock);
    if (fn (opaque, from, to - from, data) == -1)
      return -1;
    pthread_mutex_lock (&cache.lock);
    page = next;
  }
  pthread_mutex_unlock (&cache.lock);
  return 0;
}
