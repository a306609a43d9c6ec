/* SPDX-License-Identifier: MIT
 *
 * The page cache: one per process, shared by every connection and every
 * export, holding page buffers within one memory budget.  It owns the
 * page table and page index of each open export, the LRU of clean pages,
 * dirty tracking, the queue of store work and the worker threads that do
 * it (write-back and read-ahead).
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
 *   clean ──LRU eviction under memory pressure──▶ absent
 *
 * Invariants:
 * - A page is dirty when gen > durable_gen.  gen comes from a counter per
 *   export, so a flush can remember (index, gen) pairs and know a page is
 *   durable when it is absent or its durable_gen has caught up.
 * - An absent page exists in the store exactly when its index bit is set;
 *   for a present page, the bit says whether it holds data (not a hole).
 * - At most one mutation per page is in flight (INFLIGHT); a PUT sends
 *   inflight_buf, which a writer never modifies: it copies the page first.
 * - Every page buffer (cached, dirty, in flight, loading, pooled) counts
 *   against the budget in cache.used.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <nbdkit-plugin.h>

#include "debug.h"
#include "list.h"
#include "pagecache.h"
#include "pageindex.h"

#define NS_PER_SEC INT64_C (1000000000)

/* A dirty page older than this is written back even without a flush. */
#define WRITEBACK_DELAY_NS (2 * NS_PER_SEC)
/* Background write-back starts when dirty buffers pass this share of the
 * budget (in percent).
 */
#define DIRTY_WATERMARK 50
/* First and longest delay before a failed page is retried in the
 * background (a flush retries at once).
 */
#define RETRY_MIN_NS (NS_PER_SEC / 2)
#define RETRY_MAX_NS (30 * NS_PER_SEC)
#define STATS_INTERVAL_NS (5 * NS_PER_SEC)

struct page {
  struct pc_export *exp;
  uint32_t index;
  struct page *hash_next;
  struct list lru;              /* in cache.lru: clean, idle, with a buffer */
  struct list dirty;            /* in exp->dirty while dirty */
  struct list queue;            /* in cache.queue while queued */
  void *buf;                    /* the page's bytes; NULL for a tombstone */
  void *inflight_buf;           /* what the PUT in flight sends */
  uint64_t gen;                 /* generation of the latest change */
  uint64_t durable_gen;         /* generation known to be in the store */
  uint64_t inflight_gen;        /* generation the mutation in flight stores */
  uint64_t fail_seq;            /* cache.fail_seq of its last failure */
  uint64_t fail_gen;            /* generation that failed then */
  int fail_errno;
  int64_t retry_at;             /* no background retry before (monotonic) */
  int64_t dirty_since;
  uint32_t written;             /* bytes written since it was last clean */
  unsigned retries;             /* consecutive failures */
  bool loading;                 /* a fetch into buf is in flight */
  bool prefetch;                /* ... started by read-ahead (queued) */
  bool tombstone;               /* reads as zeros; DELETE pending or done */
  bool stored;                  /* the store may hold an object for it */
  bool inflight;                /* a PUT or DELETE is in flight */
  bool queued;                  /* waits in cache.queue */
};

struct pc_export {
  struct list link;             /* in cache.exports */
  struct store_export *store;
  char *name;
  uint64_t size;
  uint64_t npages;
  struct pageindex index;
  struct page **buckets;        /* page table: hash of index */
  size_t nbuckets;
  size_t npresent;              /* pages in the table */
  struct list dirty;            /* dirty pages, oldest first */
  uint64_t gen_seq;             /* last generation handed out */
  uint64_t ra_next;             /* page a sequential reader reads next */
  uint64_t ra_high;             /* read-ahead issued up to here */
  unsigned ra_streak;           /* sequential reads in a row */
};

/* A page a flush waits for. */
struct flush_target {
  uint32_t index;
  uint64_t gen;
};

static struct {
  pthread_mutex_t lock;         /* guards everything here and every page */
  pthread_cond_t changed;       /* a page changed state, or memory freed */
  pthread_cond_t work;          /* work was queued, or stopping */
  struct pagecache_config cfg;
  unsigned page_shift;
  uint64_t used;                /* bytes of page buffers, pool included */
  void **pool;                  /* free buffers kept for reuse */
  unsigned npool, pool_max;
  uint64_t ndirty;              /* dirty pages, all exports */
  unsigned nqueued;             /* pages in the queue */
  unsigned nmutating;           /* mutations in flight */
  unsigned requests;            /* store requests in flight */
  struct list lru;              /* clean pages, least recently used first */
  struct list queue;            /* store work, first come first served */
  struct list exports;          /* open exports */
  uint64_t fail_seq;            /* counts failed mutations */
  pthread_t *workers;
  unsigned nworkers, nstarted;
  bool stopping;
  int64_t stats_logged;
  struct pagecache_stats stats;
} cache = {
  .lock = PTHREAD_MUTEX_INITIALIZER,
};

/* ---- Time and waiting ---- */

static int64_t
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

/* Wait on COND until signalled or DEADLINE (monotonic ns; 0 = none).
 * Returns ETIMEDOUT once the deadline has passed.
 */
static int
wait_until (pthread_cond_t *cond, int64_t deadline)
{
  struct timespec ts;

  if (deadline == 0)
    return pthread_cond_wait (cond, &cache.lock);
  if (now_ns () >= deadline)
    return ETIMEDOUT;
  ts.tv_sec = deadline / NS_PER_SEC;
  ts.tv_nsec = deadline % NS_PER_SEC;
  return pthread_cond_timedwait (cond, &cache.lock, &ts);
}

static int
cond_init_monotonic (pthread_cond_t *cond)
{
  pthread_condattr_t attr;
  int r;

  pthread_condattr_init (&attr);
  pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
  r = pthread_cond_init (cond, &attr);
  pthread_condattr_destroy (&attr);
  return r;
}

static uint32_t
page_size (void)
{
  return cache.cfg.page_size;
}

/* ---- Page table ---- */

static size_t
bucket_of (const struct pc_export *e, uint32_t index)
{
  return (index * UINT64_C (0x9E3779B97F4A7C15)) >> 32 & (e->nbuckets - 1);
}

static struct page *
page_lookup (const struct pc_export *e, uint32_t index)
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
static struct page *
page_new (struct pc_export *e, uint32_t index)
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

/* ---- Buffers and the budget ---- */

static void *
buf_map (void)
{
  void *buf = mmap (NULL, page_size (), PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

  return buf == MAP_FAILED ? NULL : buf;
}

static void
buf_put (void *buf)
{
  if (cache.npool < cache.pool_max)
    cache.pool[cache.npool++] = buf;
  else {
    munmap (buf, page_size ());
    cache.used -= page_size ();
  }
  pthread_cond_broadcast (&cache.changed);
}

static void page_remove (struct page *p);
static void schedule_background (bool pressure);

/* Evict the least recently used clean page.  false if there is none. */
static bool
evict_one (void)
{
  struct page *p;

  if (list_empty (&cache.lru))
    return false;
  p = list_entry (cache.lru.next, struct page, lru);
  cache.stats.evictions++;
  page_remove (p);
  return true;
}

/* Get a page buffer within the budget, evicting clean pages, and when
 * MAY_WAIT, waiting for write-back to make pages clean.  May drop the lock
 * while it waits, so callers look their page up again afterwards.  NULL
 * with errno set when there is no memory (after the wait timeout).
 */
static void *
buf_get (bool may_wait)
{
  int64_t deadline = 0;

  for (;;) {
    if (cache.npool > 0)
      return cache.pool[--cache.npool];
    if (cache.used + page_size () <= cache.cfg.budget) {
      void *buf = buf_map ();
      if (buf == NULL) {
        nbdkit_error ("cache: cannot map a page buffer: %m");
        errno = ENOMEM;
        return NULL;
      }
      cache.used += page_size ();
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
      deadline = now_ns () + cache.cfg.wait_timeout * NS_PER_SEC;
    schedule_background (true);
    if (wait_until (&cache.changed, deadline) == ETIMEDOUT) {
      nbdkit_error ("cache: the cache (cache-size=%" PRIu64 ") is full of "
                    "dirty pages and write-back made no room within "
                    "cache-wait-timeout=%u seconds: is the store reachable?",
                    cache.cfg.budget, cache.cfg.wait_timeout);
      errno = EIO;
      return NULL;
    }
  }
}

/* ---- Page state changes ---- */

static bool
is_dirty (const struct page *p)
{
  return p->gen > p->durable_gen;
}

static void
lru_add (struct page *p)
{
  if (p->buf && !p->loading && !p->inflight && !is_dirty (p) &&
      list_empty (&p->lru))
    list_add_tail (&cache.lru, &p->lru);
}

static void
lru_touch (struct page *p)
{
  if (!list_empty (&p->lru)) {
    list_del (&p->lru);
    list_add_tail (&cache.lru, &p->lru);
  }
}

/* Remove an idle page (not loading, nothing in flight) from the cache and
 * free it.  A dirty page's changes are lost: callers make sure of that.
 */
static void
page_remove (struct page *p)
{
  struct pc_export *e = p->exp;
  struct page **pp = &e->buckets[bucket_of (e, p->index)];

  while (*pp != p)
    pp = &(*pp)->hash_next;
  *pp = p->hash_next;
  e->npresent--;
  list_del (&p->lru);
  if (!list_empty (&p->dirty)) {
    list_del (&p->dirty);
    cache.ndirty--;
  }
  if (p->queued) {
    list_del (&p->queue);
    cache.nqueued--;
  }
  if (p->buf)
    buf_put (p->buf);
  free (p);
}

static void
mark_dirty (struct page *p)
{
  p->gen = ++p->exp->gen_seq;
  list_del (&p->lru);
  if (list_empty (&p->dirty)) {
    list_add_tail (&p->exp->dirty, &p->dirty);
    p->dirty_since = now_ns ();
    cache.ndirty++;
  }
}

/* The page's latest generation is durable (or needs no store work). */
static void
mark_clean (struct page *p)
{
  p->durable_gen = p->gen;
  p->written = 0;
  p->retries = 0;
  if (!list_empty (&p->dirty)) {
    list_del (&p->dirty);
    cache.ndirty--;
  }
  if (p->tombstone && !p->inflight && !p->loading)
    page_remove (p);
  else
    lru_add (p);
}

/* Queue a dirty page for a worker to write back. */
static void
queue_page (struct page *p)
{
  if (p->queued || p->inflight || !is_dirty (p))
    return;
  p->queued = true;
  list_add_tail (&cache.queue, &p->queue);
  cache.nqueued++;
  pthread_cond_signal (&cache.work);
}

/* Queue the oldest dirty pages for background write-back: those dirty for
 * longer than the write-back delay, and under memory PRESSURE (or above the
 * dirty watermark) as many as keep the workers busy.
 */
static void
schedule_background (bool pressure)
{
  int64_t now = now_ns ();
  uint64_t dirty_bytes = cache.ndirty * (uint64_t) page_size ();
  struct list *l;

  if (dirty_bytes * 100 > cache.cfg.budget * DIRTY_WATERMARK)
    pressure = true;
  list_for_each (l, &cache.exports) {
    struct pc_export *e = list_entry (l, struct pc_export, link);
    struct list *d;

    list_for_each (d, &e->dirty) {
      struct page *p = list_entry (d, struct page, dirty);

      if (cache.nqueued + cache.nmutating >= 2 * cache.nworkers)
        return;
      if (p->queued || p->inflight || p->retry_at > now)
        continue;
      if (!pressure && p->dirty_since + WRITEBACK_DELAY_NS > now)
        break;                  /* the rest are younger */
      queue_page (p);
    }
  }
}

/* ---- Store requests ---- */

/* Foreground fetches share the connections limit with the workers, which
 * are fewer, so a share of it is always left for reads.
 */
static void
request_begin (void)
{
  while (cache.requests >= cache.cfg.connections)
    pthread_cond_wait (&cache.changed, &cache.lock);
  cache.requests++;
}

static void
request_end (void)
{
  cache.requests--;
  pthread_cond_broadcast (&cache.changed);
}

/* Read page P (LOADING, buffer set) from the store, dropping the lock.
 * On success P is clean and cached; on failure it is removed.  0 or -1.
 */
static int
load_page (struct page *p)
{
  struct pc_export *e = p->exp;
  uint32_t index = p->index;
  void *buf = p->buf;
  int r, saved_errno;

  request_begin ();
  pthread_mutex_unlock (&cache.lock);
  r = e->store->store->ops->read_page (e->store, index, buf, page_size ());
  saved_errno = errno;
  pthread_mutex_lock (&cache.lock);
  request_end ();

  p->loading = false;
  if (r == 1) {
    cache.stats.fetches++;
    cache.stats.bytes_down += page_size ();
    lru_add (p);
    pthread_cond_broadcast (&cache.changed);
    return 0;
  }
  if (r == 0) {
    nbdkit_error ("export '%s': page %" PRIu32 " is in the page index but "
                  "not in the store: was it removed behind nbds3's back?",
                  e->name, index);
    saved_errno = EIO;
  }
  page_remove (p);
  errno = saved_errno;
  return -1;
}

/* Fetch page INDEX, which exists in the store and is absent, in the
 * foreground.  May drop the lock; returns 0 when the caller should look
 * the page up again, -1 on error.
 */
static int
fetch_page (struct pc_export *e, uint32_t index)
{
  void *buf = buf_get (true);
  struct page *p;

  if (buf == NULL)
    return -1;
  if (page_lookup (e, index) || !pageindex_get (&e->index, index)) {
    buf_put (buf);              /* the page changed while we waited */
    return 0;
  }
  p = page_new (e, index);
  if (p == NULL) {
    buf_put (buf);
    errno = ENOMEM;
    return -1;
  }
  p->buf = buf;
  p->loading = true;
  p->stored = true;
  cache.stats.misses++;
  return load_page (p);
}

/* Start fetching absent, stored page INDEX in the background, if memory
 * allows without waiting.
 */
static void
prefetch_page (struct pc_export *e, uint32_t index)
{
  struct page *p;
  void *buf;

  if (page_lookup (e, index) || !pageindex_get (&e->index, index))
    return;
  buf = buf_get (false);
  if (buf == NULL)
    return;
  p = page_new (e, index);
  if (p == NULL) {
    buf_put (buf);
    return;
  }
  p->buf = buf;
  p->loading = p->prefetch = p->stored = true;
  p->queued = true;
  list_add_tail (&cache.queue, &p->queue);
  cache.nqueued++;
  cache.stats.prefetches++;
  pthread_cond_signal (&cache.work);
}

/* Write page P back: PUT its buffer or DELETE a tombstone, dropping the
 * lock.  Called by a worker with P dequeued, dirty and idle.
 */
static void
mutate_page (struct page *p)
{
  struct pc_export *e = p->exp;
  const struct store_ops *ops = e->store->store->ops;
  bool delete = p->tombstone;
  int r, saved_errno;

  p->inflight = true;
  p->inflight_gen = p->gen;
  p->inflight_buf = delete ? NULL : p->buf;
  if (!delete)
    p->stored = true;
  list_del (&p->lru);
  cache.nmutating++;
  request_begin ();
  pthread_mutex_unlock (&cache.lock);
  if (nbds3_debug_cache)
    nbdkit_debug ("cache: %s export '%s' page %" PRIu32,
                  delete ? "delete" : "write back", e->name, p->index);
  if (delete)
    r = ops->delete_page (e->store, p->index);
  else
    r = ops->write_page (e->store, p->index, p->inflight_buf, page_size ());
  saved_errno = errno;
  pthread_mutex_lock (&cache.lock);
  request_end ();
  cache.nmutating--;
  p->inflight = false;

  if (p->inflight_buf && p->inflight_buf != p->buf)
    buf_put (p->inflight_buf);  /* a writer copied the page meanwhile */
  p->inflight_buf = NULL;

  if (r == 0) {
    if (delete) {
      cache.stats.deletes++;
      if (p->tombstone)
        p->stored = false;
    }
    else {
      cache.stats.puts++;
      cache.stats.bytes_up += page_size ();
    }
    p->durable_gen = p->inflight_gen;
    p->retries = 0;
    if (!is_dirty (p))
      mark_clean (p);
    else {                      /* changed while in flight: later again */
      list_del (&p->dirty);
      list_add_tail (&e->dirty, &p->dirty);
      p->dirty_since = now_ns ();
    }
  }
  else {
    int64_t delay = RETRY_MIN_NS << (p->retries < 6 ? p->retries : 6);

    cache.stats.errors++;
    p->fail_seq = ++cache.fail_seq;
    p->fail_gen = p->inflight_gen;
    p->fail_errno = saved_errno ? saved_errno : EIO;
    p->retries++;
    p->retry_at = now_ns () + (delay < RETRY_MAX_NS ? delay : RETRY_MAX_NS);
    nbdkit_debug ("cache: export '%s' page %" PRIu32 " stays dirty after a "
                  "failed %s; retry in %" PRId64 " ms or at the next flush",
                  e->name, p->index, delete ? "delete" : "write",
                  (p->retry_at - now_ns ()) / 1000000);
  }
  pthread_cond_broadcast (&cache.changed);
}

/* ---- Workers ---- */

static void
maybe_log_stats (void)
{
  int64_t now = now_ns ();

  if (nbds3_debug_stats && now - cache.stats_logged >= STATS_INTERVAL_NS) {
    cache.stats_logged = now;
    pthread_mutex_unlock (&cache.lock);
    pagecache_log_stats ("periodic");
    pthread_mutex_lock (&cache.lock);
  }
}

static void *
worker (void *arg)
{
  pthread_mutex_lock (&cache.lock);
  for (;;) {
    struct page *p;

    while (list_empty (&cache.queue) && !cache.stopping) {
      schedule_background (false);
      if (!list_empty (&cache.queue))
        break;
      wait_until (&cache.work, now_ns () + NS_PER_SEC / 4);
      maybe_log_stats ();
    }
    if (list_empty (&cache.queue))
      break;                    /* stopping */
    p = list_entry (cache.queue.next, struct page, queue);
    list_del (&p->queue);
    p->queued = false;
    cache.nqueued--;
    if (p->loading)
      load_page (p);            /* read-ahead */
    else if (is_dirty (p) && !p->inflight)
      mutate_page (p);
  }
  pthread_mutex_unlock (&cache.lock);
  return NULL;
}

/* ---- Set-up and tear-down ---- */

int
pagecache_init (const struct pagecache_config *config)
{
  unsigned reserve;

  memset (&cache, 0, sizeof cache);
  pthread_mutex_init (&cache.lock, NULL);
  cache.cfg = *config;
  cache.page_shift = __builtin_ctz (config->page_size);
  if (cond_init_monotonic (&cache.changed) ||
      cond_init_monotonic (&cache.work)) {
    nbdkit_error ("cache: cannot create condition variables");
    return -1;
  }
  list_init (&cache.lru);
  list_init (&cache.queue);
  list_init (&cache.exports);
  cache.pool_max = config->budget / config->page_size / 8;
  if (cache.pool_max > 64)
    cache.pool_max = 64;
  if (cache.pool_max < 2)
    cache.pool_max = 2;
  cache.pool = calloc (cache.pool_max, sizeof (void *));
  /* Keep a quarter of the requests for foreground reads. */
  reserve = config->connections / 4 ? config->connections / 4 : 1;
  cache.nworkers = config->connections > reserve
    ? config->connections - reserve : 1;
  cache.workers = calloc (cache.nworkers, sizeof (pthread_t));
  if (cache.pool == NULL || cache.workers == NULL) {
    nbdkit_error ("cache: out of memory");
    return -1;
  }
  return 0;
}

int
pagecache_start (void)
{
  for (unsigned i = 0; i < cache.nworkers; ++i) {
    int r = pthread_create (&cache.workers[i], NULL, worker, NULL);
    if (r) {
      errno = r;
      nbdkit_error ("cache: cannot start a worker thread: %m");
      return -1;
    }
    cache.nstarted++;
  }
  return 0;
}

static int flush_export_until (struct pc_export *e, int64_t deadline,
                               bool name_failures);

int
pagecache_shutdown (void)
{
  int64_t deadline = now_ns () + cache.cfg.shutdown_timeout * NS_PER_SEC;
  struct list *l;
  int r = 0;

  pthread_mutex_lock (&cache.lock);
  list_for_each (l, &cache.exports) {
    struct pc_export *e = list_entry (l, struct pc_export, link);
    if (flush_export_until (e, deadline, true) == -1)
      r = -1;
  }
  cache.stopping = true;
  pthread_cond_broadcast (&cache.work);
  pthread_mutex_unlock (&cache.lock);
  for (unsigned i = 0; i < cache.nstarted; ++i)
    pthread_join (cache.workers[i], NULL);
  cache.nstarted = 0;
  return r;
}

void
pagecache_free (void)
{
  while (cache.npool > 0) {
    munmap (cache.pool[--cache.npool], page_size ());
    cache.used -= page_size ();
  }
  free (cache.pool);
  free (cache.workers);
  cache.pool = NULL;
  cache.workers = NULL;
  pthread_cond_destroy (&cache.changed);
  pthread_cond_destroy (&cache.work);
}

static int
index_add (void *opaque, uint32_t page)
{
  struct pc_export *e = opaque;

  if (page >= e->npages)
    return 0;                   /* beyond the end: never read */
  return pageindex_set (&e->index, page);
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
      store->store->ops->list_pages (store, index_add, e) == -1)
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

int
pagecache_close_export (struct pc_export *e)
{
  int64_t deadline = now_ns () + cache.cfg.shutdown_timeout * NS_PER_SEC;
  int r;

  pthread_mutex_lock (&cache.lock);
  r = flush_export_until (e, deadline, true);
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
      page_remove (e->buckets[b]);
  list_del (&e->link);
  pthread_mutex_unlock (&cache.lock);

  pagecache_log_stats (e->name);
  pageindex_free (&e->index);
  free (e->buckets);
  free (e->name);
  free (e);
  return r;
}

/* ---- Flush ---- */

/* Wait until every target is durable, or has failed since this flush
 * began, or DEADLINE passes.  Continues past failed pages and returns the
 * first error.  With NAME_FAILURES, reports every page not written.
 */
static int
flush_targets (struct pc_export *e, struct flush_target *t, size_t n,
               int64_t deadline, bool name_failures)
{
  uint64_t start_seq = cache.fail_seq;
  int first_errno = 0;
  size_t failed = 0;

  for (size_t i = 0; i < n; ++i) {
    struct page *p = page_lookup (e, t[i].index);
    if (p) {
      queue_page (p);
      p->retry_at = 0;
    }
  }
  for (size_t i = 0; i < n;) {
    struct page *p = page_lookup (e, t[i].index);
    int err = 0;

    if (p == NULL || p->durable_gen >= t[i].gen) {
      i++;
      continue;
    }
    if (p->fail_seq > start_seq && p->fail_gen >= t[i].gen)
      err = p->fail_errno;
    else {
      queue_page (p);         /* e.g. it changed while being written */
      if (wait_until (&cache.changed, deadline) != ETIMEDOUT)
        continue;
      err = ETIMEDOUT;
    }
    if (first_errno == 0)
      first_errno = err;
    if (name_failures)
      nbdkit_error ("export '%s': page %" PRIu32 " (bytes %" PRIu64 "-%"
                    PRIu64 ") could not be written back: %s",
                    e->name, p->index, (uint64_t) p->index << cache.page_shift,
                    (((uint64_t) p->index + 1) << cache.page_shift) - 1,
                    strerror (err));
    failed++;
    i++;
  }
  if (first_errno) {
    if (!name_failures)
      nbdkit_error ("export '%s': flush failed: %zu of %zu pages could not "
                    "be written to the store; they stay dirty and are "
                    "retried", e->name, failed, n);
    errno = first_errno == ETIMEDOUT ? EIO : first_errno;
    return -1;
  }
  return 0;
}

static int
flush_export_until (struct pc_export *e, int64_t deadline, bool name_failures)
{
  struct flush_target *t;
  size_t n = 0, len = 0;
  struct list *l;
  int r;

  list_for_each (l, &e->dirty)
    len++;
  if (len == 0)
    return 0;
  t = malloc (len * sizeof *t);
  if (t == NULL) {
    nbdkit_error ("cache: out of memory in flush");
    errno = ENOMEM;
    return -1;
  }
  list_for_each (l, &e->dirty) {
    struct page *p = list_entry (l, struct page, dirty);
    t[n].index = p->index;
    t[n++].gen = p->gen;
  }
  r = flush_targets (e, t, n, deadline, name_failures);
  free (t);
  return r;
}

int
pagecache_flush (struct pc_export *e)
{
  int r;

  pthread_mutex_lock (&cache.lock);
  r = flush_export_until (e, 0, false);
  pthread_mutex_unlock (&cache.lock);
  return r;
}

/* Make the pages of [offset, offset+count) durable (FUA). */
static int
flush_range (struct pc_export *e, uint32_t count, uint64_t offset)
{
  uint32_t first = offset >> cache.page_shift;
  uint32_t last = (offset + count - 1) >> cache.page_shift;
  struct flush_target t[64];
  size_t n = 0;

  for (uint64_t i = first; i <= last; ++i) {
    struct page *p = page_lookup (e, i);
    if (p && is_dirty (p)) {
      t[n].index = i;
      t[n++].gen = p->gen;
    }
    if (n == sizeof t / sizeof t[0] || (i == last && n > 0)) {
      if (flush_targets (e, t, n, 0, false) == -1)
        return -1;
      n = 0;
    }
  }
  return 0;
}

/* ---- Reads ---- */

/* Copy N bytes at OFF of page INDEX to OUT. */
static int
read_part (struct pc_export *e, uint32_t index, uint32_t off, uint32_t n,
           char *out)
{
  for (;;) {
    struct page *p = page_lookup (e, index);

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
      pthread_cond_wait (&cache.changed, &cache.lock);
      continue;
    }
    if (p->buf == NULL)
      memset (out, 0, n);       /* a tombstone */
    else {
      memcpy (out, (char *) p->buf + off, n);
      lru_touch (p);
    }
    cache.stats.hits++;
    return 0;
  }
}

/* Detect a sequential reader and fetch the pages ahead of it. */
static void
read_ahead (struct pc_export *e, uint32_t first, uint32_t last)
{
  uint64_t window = cache.cfg.budget / page_size () / 4;

  if (first == e->ra_next || first + 1 == e->ra_next)
    e->ra_streak++;
  else {
    e->ra_streak = 0;
    e->ra_high = last;
  }
  e->ra_next = (uint64_t) last + 1;
  if (e->ra_streak < 2)
    return;
  if (window > 4 * cache.nworkers)
    window = 4 * cache.nworkers;
  if (e->ra_high < last)
    e->ra_high = last;
  while (e->ra_high < (uint64_t) last + window && e->ra_high + 1 < e->npages)
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
    uint32_t off = offset & (page_size () - 1);
    uint32_t n = page_size () - off < count ? page_size () - off : count;

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

/* ---- Writes, zeroes and trims ---- */

/* Write N bytes at OFF of page INDEX from IN, or zeroes if IN is NULL.
 * With FAST, fail with ENOTSUP rather than fetch the page.
 */
static int
write_part (struct pc_export *e, uint32_t index, uint32_t off, uint32_t n,
            const char *in, bool fast)
{
  bool full = off == 0 && n == page_size ();
  void *spare = NULL;
  int r = -1;

  for (;;) {
    struct page *p = page_lookup (e, index);
    bool stored = pageindex_get (&e->index, index);

    if (p && p->loading) {
      pthread_cond_wait (&cache.changed, &cache.lock);
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
      spare = buf_get (true);
      if (spare == NULL)
        break;
      continue;                 /* the lock was dropped: look again */
    }
    if (p == NULL) {
      p = page_new (e, index);
      if (p == NULL) {
        errno = ENOMEM;
        break;
      }
      p->stored = stored;
    }
    if (p->buf == NULL) {       /* new page or tombstone */
      p->buf = spare;
      spare = NULL;
      p->tombstone = false;
      if (!full) {
        memset (p->buf, 0, off);
        memset ((char *) p->buf + off + n, 0, page_size () - off - n);
      }
    }
    else if (p->buf == p->inflight_buf) {       /* copy on write */
      if (!full)
        memcpy (spare, p->buf, page_size ());
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
    mark_dirty (p);
    p->written = p->written + n < page_size () ? p->written + n : page_size ();
    /* A sequential writer has filled the page: upload it now. */
    if (off + n == page_size () && p->written == page_size ())
      queue_page (p);
    r = 0;
    break;
  }
  if (spare)
    buf_put (spare);
  return r;
}

/* Turn page INDEX into a hole. */
static void
punch_page (struct pc_export *e, uint32_t index)
{
  for (;;) {
    struct page *p = page_lookup (e, index);

    if (p && p->loading) {
      pthread_cond_wait (&cache.changed, &cache.lock);
      continue;
    }
    if (p == NULL) {
      if (!pageindex_get (&e->index, index))
        return;                 /* a hole already */
      p = page_new (e, index);
      if (p == NULL)
        return;                 /* trim is advisory */
      p->stored = true;
    }
    if (p->buf && p->buf != p->inflight_buf)
      buf_put (p->buf);
    p->buf = NULL;
    p->tombstone = true;
    p->written = 0;
    pageindex_clear (&e->index, index);
    mark_dirty (p);
    if (!p->stored && !p->inflight)
      mark_clean (p);           /* nothing in the store to delete */
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
    uint32_t off = offset & (page_size () - 1);
    uint32_t n = page_size () - off < count ? page_size () - off : count;

    if (in == NULL && n == page_size ())
      punch_page (e, index);
    else if (in || !punch_partial_skip)
      r = write_part (e, index, off, n, in, fast);
    if (in)
      in += n;
    offset += n;
    count -= n;
  }
  if (cache.ndirty * (uint64_t) page_size () * 100 >
      cache.cfg.budget * DIRTY_WATERMARK)
    schedule_background (false);
  if (r == 0 && fua)
    r = flush_range (e, total, start);
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

/* ---- Extents ---- */

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

/* ---- Statistics ---- */

void
pagecache_get_stats (struct pagecache_stats *s)
{
  struct list *l;

  pthread_mutex_lock (&cache.lock);
  *s = cache.stats;
  s->dirty_pages = cache.ndirty;
  s->used_bytes = cache.used;
  s->cached_pages = 0;
  list_for_each (l, &cache.exports)
    s->cached_pages += list_entry (l, struct pc_export, link)->npresent;
  pthread_mutex_unlock (&cache.lock);
}

void
pagecache_log_stats (const char *why)
{
  struct pagecache_stats s;

  pagecache_get_stats (&s);
  nbdkit_debug ("stats (%s): hits %" PRIu64 " misses %" PRIu64
                " prefetches %" PRIu64 " fetches %" PRIu64
                " puts %" PRIu64 " deletes %" PRIu64 " errors %" PRIu64
                " evictions %" PRIu64 " MiB down %" PRIu64 " MiB up %" PRIu64
                " dirty pages %" PRIu64 " cached pages %" PRIu64
                " buffers MiB %" PRIu64 " (peak %" PRIu64 ")",
                why, s.hits, s.misses, s.prefetches, s.fetches, s.puts,
                s.deletes, s.errors, s.evictions, s.bytes_down >> 20,
                s.bytes_up >> 20, s.dirty_pages, s.cached_pages,
                s.used_bytes >> 20, s.peak_bytes >> 20);
}
