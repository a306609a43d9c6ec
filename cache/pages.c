/* SPDX-License-Identifier: MIT
 *
 * The page cache's memory, the bottom of the cache: the page table of
 * each export (a hash of page index to struct page), the page buffers and
 * the one budget they live in (a pool of free buffers, LRU eviction of
 * clean pages, and when everything is dirty, waiting for the make_room
 * hook that the layer above registers), and the transitions between page
 * states that every other part of the cache goes through.  It knows
 * nothing of write-back or the data path.  Everything here runs with
 * cache.lock held.
 */

#include <config.h>

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <nbdkit-plugin.h>

#include "debug.h"
#include "pagecache-impl.h"

struct pagecache_state cache = {
  .lock = PTHREAD_MUTEX_INITIALIZER,
};

static size_t
bucket_of (const struct pc_export *e, uint32_t index)
{
  return (index * UINT64_C (0x9E3779B97F4A7C15)) >> 32 & (e->nbuckets - 1);
}

struct page *
pc_page_lookup (const struct pc_export *e, uint32_t index)
{
  struct page *p = e->buckets[bucket_of (e, index)];

  while (p && p->index != index)
    p = p->hash_next;
  return p;
}

static void
table_grow (struct pc_export *e)
{
  size_t old_n = e->nbuckets;
  struct page **old = e->buckets;
  struct page **nb = calloc (old_n * 2, sizeof *nb);

  if (nb == NULL)
    return;                     /* longer chains, still correct */
  e->buckets = nb;
  e->nbuckets = old_n * 2;
  for (size_t i = 0; i < old_n; ++i) {
    struct page *p = old[i], *next;
    for (; p; p = next) {
      size_t b = bucket_of (e, p->index);
      next = p->hash_next;
      p->hash_next = nb[b];
      nb[b] = p;
    }
  }
  free (old);
}

/* A new, clean, empty page.  NULL if out of memory. */
struct page *
pc_page_new (struct pc_export *e, uint32_t index)
{
  struct page *p = calloc (1, sizeof *p);
  size_t b;

  if (p == NULL) {
    nbdkit_error ("cache: out of memory for a page descriptor");
    return NULL;
  }
  p->exp = e;
  p->index = index;
  p->gen = p->durable_gen = e->gen_seq;
  list_init (&p->lru);
  list_init (&p->dirty);
  list_init (&p->queue);
  if (e->npresent >= e->nbuckets)
    table_grow (e);
  b = bucket_of (e, index);
  p->hash_next = e->buckets[b];
  e->buckets[b] = p;
  e->npresent++;
  return p;
}

#ifndef NDEBUG
/* The counters' invariants that cost nothing to check. */
static void
counters_check (void)
{
  assert (cache.used <= cache.cfg.budget);
  assert (cache.npool <= cache.pool_max);
  assert (cache.used >= (uint64_t) cache.npool * pc_page_size ());
  assert (cache.requests <= cache.plan.requests);
  assert (cache.nmutating <= cache.nworkers);
}

/* Assert the invariants of pagecache.c's top comment that one page's
 * state shows, and the cheap ones of the counters.  Called with
 * cache.lock held after every change of P's state, when P is consistent
 * again.  Compiled out with NDEBUG (product builds).
 */
void
pc_page_check (const struct page *p)
{
  const struct pc_export *e = p->exp;
  bool dirty = pc_is_dirty (p);
  bool has_data = pageindex_get (&e->index, p->index);

  /* In its export's page table, once. */
  assert (p->index < e->npages);
  assert (pc_page_lookup (e, p->index) == p);
  /* Dirty when gen > durable_gen; a dirty page is on its export's list. */
  assert (p->durable_gen <= p->gen && p->gen <= e->gen_seq);
  assert (dirty == !list_empty (&p->dirty));
  assert (!dirty || (cache.ndirty > 0 && e->ndirty > 0));
  /* filled and retries count since the page was last clean. */
  assert (p->filled <= pc_page_size ());
  assert (dirty || (p->filled == 0 && p->retries == 0));
  /* A tombstone has no buffer and is a hole; it is removed once clean. */
  assert (p->tombstone == (p->buf == NULL));
  assert (!p->tombstone || (dirty && p->filled == 0 && !has_data));
  /* A fetch: into a buffer, of a stored page, that no one has changed. */
  assert (!p->loading || (p->stored && has_data));
  assert (!p->loading || (!dirty && !p->inflight));
  /* Queued: linked in cache.fetches (loading) or cache.queue (dirty). */
  assert (p->queued == !list_empty (&p->queue));
  assert (!p->queued || p->loading || (dirty && !p->inflight));
  assert (!p->queued || p->loading || cache.nqueued > 0);
  /* At most one mutation in flight; it stores a generation not yet
   * durable.  A PUT sends inflight_buf (the page is stored then).
   */
  assert (!p->inflight || (p->durable_gen < p->inflight_gen &&
                           p->inflight_gen <= p->gen));
  assert (!p->inflight || cache.nmutating > 0);
  assert (p->inflight || p->inflight_buf == NULL);
  assert (p->inflight_buf == NULL || p->stored);
  /* Written bytes are tracked only in the buffer of a dirty page; a
   * merge is owed only by a page whose PUT found it stored, and needs
   * them.
   */
  assert (p->written == NULL || (dirty && p->buf && !p->loading));
  assert (!p->merge || (p->written && p->stored));
  /* On the clean LRU: clean, idle, with a buffer. */
  assert (list_empty (&p->lru) ||
          (p->buf && !dirty && !p->loading && !p->inflight));
  counters_check ();
}
#endif /* !NDEBUG */

static void *
buf_map (void)
{
  void *buf = mmap (NULL, pc_page_size (), PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

  return buf == MAP_FAILED ? NULL : buf;
}

void
pc_buf_put (void *buf)
{
  if (cache.npool < cache.pool_max)
    cache.pool[cache.npool++] = buf;
  else {
    munmap (buf, pc_page_size ());
    cache.used -= pc_page_size ();
  }
  pthread_cond_broadcast (&cache.changed);
}

/* Evict the least recently used clean page.  false if there is none. */
static bool
evict_one (void)
{
  struct page *p;

  if (list_empty (&cache.lru))
    return false;
  p = list_entry (cache.lru.next, struct page, lru);
  pc_page_check (p);
  PC_COUNT (p->exp, evictions, 1);
  /* The one cache debug line under the lock: a caller of pc_buf_get
   * (false) relies on it not being dropped.
   */
  if (nbds3_debug_cache)
    nbdkit_debug ("cache: evict export '%s' page %" PRIu32 " (clean, least "
                  "recently used)", p->exp->name, p->index);
  pc_page_remove (p);
  return true;
}

/* Get a page buffer within the budget, evicting clean pages, and when
 * MAY_WAIT, asking the make_room hook (write-back) to make pages clean and
 * waiting for that.  May drop the lock while it waits, so callers look
 * their page up again afterwards; without MAY_WAIT it never drops it.
 * NULL with errno set when there is no memory (after the wait timeout).
 */
void *
pc_buf_get (bool may_wait)
{
  int64_t deadline = 0;

  for (;;) {
    if (cache.npool > 0)
      return cache.pool[--cache.npool];
    if (cache.used + pc_page_size () <= cache.cfg.budget) {
      void *buf = buf_map ();
      if (buf == NULL) {
        nbdkit_error ("cache: cannot map a page buffer: %m");
        errno = ENOMEM;
        return NULL;
      }
      cache.used += pc_page_size ();
      if (cache.used > cache.stats.peak_bytes)
        cache.stats.peak_bytes = cache.used;
      return buf;
    }
    if (evict_one ())
      continue;
    if (!may_wait) {
      errno = ENOMEM;
      return NULL;
    }
    if (deadline == 0)
      deadline = clock_now_ns () + cache.cfg.wait_timeout * NS_PER_SEC;
    if (cache.make_room)
      cache.make_room ();
    if (cache.shutdown_deadline) {
      nbdkit_error ("cache: nbdkit is shutting down: this write, which "
                    "waits for cache memory, fails");
      errno = ESHUTDOWN;
      return NULL;
    }
    if (clock_cond_wait (&cache.changed, &cache.lock, deadline) == ETIMEDOUT) {
      nbdkit_error ("cache: the cache (cache-size=%" PRIu64 ") is full of "
                    "dirty pages and write-back made no room within "
                    "cache-wait-timeout=%u seconds: is the store reachable?",
                    cache.cfg.budget, cache.cfg.wait_timeout);
      errno = EIO;
      return NULL;
    }
  }
}

void
pc_lru_add (struct page *p)
{
  if (p->buf && !p->loading && !p->inflight && !pc_is_dirty (p) &&
      list_empty (&p->lru))
    list_add_tail (&cache.lru, &p->lru);
  pc_page_check (p);
}

void
pc_lru_touch (struct page *p)
{
  if (!list_empty (&p->lru)) {
    list_del (&p->lru);
    list_add_tail (&cache.lru, &p->lru);
  }
}

/* Remove an idle page (not loading, nothing in flight) from the cache and
 * free it.  A dirty page's changes are lost: callers make sure of that.
 */
void
pc_page_remove (struct page *p)
{
  struct pc_export *e = p->exp;
  struct page **pp = &e->buckets[bucket_of (e, p->index)];

  assert (!p->loading && !p->inflight);
  while (*pp != p)
    pp = &(*pp)->hash_next;
  *pp = p->hash_next;
  e->npresent--;
  list_del (&p->lru);
  if (!list_empty (&p->dirty)) {
    list_del (&p->dirty);
    cache.ndirty--;
    e->ndirty--;
  }
  if (p->queued) {
    list_del (&p->queue);
    if (!p->loading)
      cache.nqueued--;
  }
  if (p->buf)
    pc_buf_put (p->buf);
  written_free (p->written);
  free (p);
}

void
pc_mark_dirty (struct page *p)
{
  p->gen = ++p->exp->gen_seq;
  list_del (&p->lru);
  if (list_empty (&p->dirty)) {
    list_add_tail (&p->exp->dirty, &p->dirty);
    p->dirty_since = clock_now_ns ();
    cache.ndirty++;
    p->exp->ndirty++;
  }
  pc_page_check (p);
}

/* Every byte of page P is the client's or the store's again (it was
 * written whole, trimmed, merged or stored): no map of written bytes, no
 * merge owed.
 */
void
pc_forget_written (struct page *p)
{
  written_free (p->written);
  p->written = NULL;
  p->merge = false;
}

/* The page's latest generation is durable (or needs no store work). */
void
pc_mark_clean (struct page *p)
{
  p->durable_gen = p->gen;
  p->filled = 0;
  p->retries = 0;
  pc_forget_written (p);
  if (!list_empty (&p->dirty)) {
    list_del (&p->dirty);
    cache.ndirty--;
    p->exp->ndirty--;
  }
  if (p->tombstone && !p->inflight && !p->loading)
    pc_page_remove (p);
  else
    pc_lru_add (p);
}

/* Set up the memory part of the cache (no make_room hook yet).  0 or -1. */
int
pc_pages_init (const struct pagecache_config *config)
{
  memset (&cache, 0, sizeof cache);
  pthread_mutex_init (&cache.lock, NULL);
  cache.cfg = *config;
  cache.page_shift = __builtin_ctz (config->page_size);
  if (clock_cond_init (&cache.changed) ||
      clock_cond_init (&cache.work) ||
      clock_cond_init (&cache.request_done)) {
    nbdkit_error ("cache: cannot create condition variables");
    return -1;
  }
  list_init (&cache.lru);
  list_init (&cache.queue);
  list_init (&cache.fetches);
  list_init (&cache.exports);
  cache.pool_max = config->budget / config->page_size / 8;
  if (cache.pool_max > 64)
    cache.pool_max = 64;
  if (cache.pool_max < 2)
    cache.pool_max = 2;
  cache.pool = calloc (cache.pool_max, sizeof (void *));
  if (cache.pool == NULL) {
    nbdkit_error ("cache: out of memory");
    return -1;
  }
  return 0;
}

void
pc_pages_free (void)
{
  while (cache.npool > 0) {
    munmap (cache.pool[--cache.npool], pc_page_size ());
    cache.used -= pc_page_size ();
  }
  free (cache.pool);
  cache.pool = NULL;
  pthread_cond_destroy (&cache.changed);
  pthread_cond_destroy (&cache.work);
  pthread_cond_destroy (&cache.request_done);
}
