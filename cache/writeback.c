/* SPDX-License-Identifier: MIT
 *
 * Store work, the middle of the cache (it uses pages.c; pagecache.c uses
 * it): the store request slots, loading a page (a foreground miss or
 * read-ahead), the queue of write-back and the worker threads that take
 * from it (PUT or DELETE of dirty pages, a page of zeros stored as a
 * hole, the merge of a page whose PUT found it stored although the index
 * said absent, read-ahead fetches), the background policy (pages dirty for longer than a delay, pages a
 * sequential writer has filled, and everything past the dirty watermark,
 * also run by pages.c's make_room hook when the budget is full of dirty
 * pages), retries with backoff after a failure, and flush: waiting until
 * every page changed before it is durable, or has failed.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-plugin.h>

#include "cleanup.h"
#include "debug.h"
#include "iszero.h"
#include "pagecache-impl.h"
#include "text.h"

/* Every store request, a foreground fetch or a worker's, takes one of
 * the plan's request slots (mutation_limit leaves a share of them to
 * reads while reads wait).
 */
static void
request_begin (void)
{
  while (cache.requests >= cache.plan.requests)
    pthread_cond_wait (&cache.request_done, &cache.lock);
  cache.requests++;
}

static void
request_end (void)
{
  cache.requests--;
  pthread_cond_signal (&cache.request_done);
}

/* Read page P (LOADING, buffer set) from the store, dropping the lock:
 * for a reader or writer that waits for it (FOREGROUND) or as read-ahead.
 * On success P is clean and cached; on failure it is removed.  0 or -1.
 */
int
pc_load_page (struct page *p, bool foreground)
{
  struct pc_export *e = p->exp;
  uint32_t index = p->index;
  void *buf = p->buf;
  int r, saved_errno;

  pc_page_check (p);
  cache.nreading++;
  request_begin ();
  pthread_mutex_unlock (&cache.lock);
  if (nbds3_debug_cache)
    nbdkit_debug ("cache: fetch export '%s' page %" PRIu32 " (%s)",
                  e->name, index, foreground ? "miss" : "read-ahead");
  r = store_read_page (e->store, index, buf, pc_page_size ());
  saved_errno = errno;
  pthread_mutex_lock (&cache.lock);
  request_end ();
  if (--cache.nreading == 0 && !list_empty (&cache.queue))
    pthread_cond_broadcast (&cache.work);  /* write-back may use it all */

  p->loading = false;
  if (r == 1) {
    PC_COUNT (e, fetches, 1);
    PC_COUNT (e, bytes_down, pc_page_size ());
    pc_lru_add (p);
    pthread_cond_broadcast (&cache.changed);
    return 0;
  }
  if (r == 0) {
    nbdkit_error ("export '%s': page %" PRIu32 " is in the page index but "
                  "not in the store: was it removed behind nbds3's back?",
                  e->name, index);
    saved_errno = EIO;
  }
  pc_page_remove (p);
  errno = saved_errno;
  return -1;
}

/* How many mutations may be in flight now: every request slot, less a
 * reserve while reads are waiting, so that a read waits for at most the
 * mutations already running, not for the whole queue.  (A worker that
 * ends a mutation keeps the lock into its next one: without the reserve
 * it would take the freed slot before the waiting read could.)
 */
static unsigned
mutation_limit (void)
{
  bool reads_wait = cache.nreading > 0 || !list_empty (&cache.fetches);

  return cache.nworkers - (reads_wait ? cache.plan.read_reserve : 0);
}

/* Queue a dirty page for a worker to write back. */
void
pc_queue_page (struct page *p)
{
  if (p->queued || p->inflight || !pc_is_dirty (p))
    return;
  p->queued = true;
  list_add_tail (&cache.queue, &p->queue);
  cache.nqueued++;
  pc_page_check (p);
  pthread_cond_signal (&cache.work);
}

/* Queue the oldest dirty pages for background write-back: those dirty for
 * longer than the write-back delay, and under memory PRESSURE (or above the
 * dirty watermark) as many as keep the workers busy.
 */
void
pc_schedule_background (bool pressure)
{
  int64_t now = clock_now_ns ();
  uint64_t dirty_bytes = cache.ndirty * (uint64_t) pc_page_size ();
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
      pc_queue_page (p);
    }
  }
}

/* Start an attempt on page P (dirty, idle, dequeued): a PUT of BUF or a
 * DELETE (BUF NULL), or a merge's fetch (BUF NULL, P->merge).  P is in
 * flight until attempt_end: no other attempt starts, a writer copies the
 * buffer a PUT sends, and the page is not removed.  Takes a request slot,
 * which may drop the lock.
 */
static void
attempt_begin (struct page *p, void *buf)
{
  if (p->retries > 0)
    PC_COUNT (p->exp, retries, 1);
  p->exp->ninflight++;
  p->inflight = true;
  p->inflight_gen = p->gen;
  p->attempt_seq = ++cache.attempt_seq;
  p->inflight_buf = buf;
  list_del (&p->lru);
  cache.nmutating++;
  pc_page_check (p);
  request_begin ();
}

/* The attempt on P has returned (the lock held again). */
static void
attempt_end (struct page *p)
{
  request_end ();
  cache.nmutating--;
  p->exp->ninflight--;
  p->inflight = false;
}

/* The attempt on P failed with ERR (WHAT, for the message): P stays dirty
 * and is retried with a backoff, or at the next flush, which this
 * failure ends.
 */
static void
attempt_failed (struct page *p, int err, const char *what)
{
  int64_t delay = RETRY_MIN_NS << (p->retries < 6 ? p->retries : 6);
  struct pc_export *e = p->exp;

  PC_COUNT (e, errors, 1);
  e->fail_seq = ++cache.fail_seq;
  p->failed_attempt = p->attempt_seq;
  p->fail_gen = p->inflight_gen;
  p->fail_errno = err ? err : EIO;
  p->retries++;
  p->retry_at = clock_now_ns () + MIN (delay, RETRY_MAX_NS);
  nbdkit_debug ("cache: export '%s' page %" PRIu32 " stays dirty after a "
                "failed %s; retry in %" PRId64 " ms or at the next flush",
                e->name, p->index, what,
                (p->retry_at - clock_now_ns ()) / 1000000);
  pc_page_check (p);
}

/* What write-back does with a page, decided in mutate_page. */
enum mutation { PUT, DELETE, NOTHING };

/* The mutation that stores page P as it is now: a tombstone, or a page
 * whose buffer BUF is all zeros, is stored as absent, which is a DELETE
 * if the store may hold it (WAS_STORED) and no request otherwise; any
 * other page is a PUT.  BUF (NULL for a tombstone) is the buffer in
 * flight, which no writer changes, so this runs without the lock.
 */
static enum mutation
choose_mutation (const void *buf, bool was_stored)
{
  if (buf && !iszero_buf (buf, pc_page_size ()))
    return PUT;
  return was_stored ? DELETE : NOTHING;
}

static const char *const mutation_names[] = {
  [PUT] = "write back", [DELETE] = "delete", [NOTHING] = "drop",
};

/* Send mutation M of page P (the lock dropped).  0 or -1. */
static int
send_mutation (struct page *p, enum mutation m)
{
  struct pc_export *e = p->exp;

  if (nbds3_debug_cache)
    nbdkit_debug ("cache: %s export '%s' page %" PRIu32 "%s",
                  mutation_names[m], e->name, p->index,
                  m != PUT && p->inflight_buf ? " (all zeros)" : "");
  switch (m) {
  case PUT:
    return store_write_page (e->store, p->index, p->inflight_buf,
                             pc_page_size ());
  case DELETE:
    return store_delete_page (e->store, p->index);
  default:
    return 0;
  }
}

/* Mutation M of page P succeeded (the lock held again): count it.  A page
 * of ZEROS stored as absent becomes a hole in the index, unless a writer
 * changed it meanwhile.  Then P is clean, and removed if it is a hole
 * (a tombstone, or zeros: a hole costs no memory); or, changed
 * meanwhile, it goes to the end of the dirty list.
 */
static void
mutation_done (struct page *p, enum mutation m, bool zeros)
{
  struct pc_export *e = p->exp;

  if (m == PUT) {
    PC_COUNT (e, puts, 1);
    PC_COUNT (e, bytes_up, pc_page_size ());
    pc_forget_written (p);      /* stored: later PUTs go with If-Match */
  }
  else {
    if (m == DELETE)
      PC_COUNT (e, deletes, 1);
    if (zeros)
      PC_COUNT (e, zero_pages, 1);
    if (zeros && p->inflight_gen == p->gen)
      pageindex_clear (&e->index, p->index);
    p->stored = false;          /* the store holds nothing for it */
  }
  p->durable_gen = p->inflight_gen;
  if (m != NOTHING)
    e->mutated_seq++;           /* a store sync makes it durable */
  p->retries = 0;
  if (!pc_is_dirty (p)) {
    pc_mark_clean (p);          /* removes a tombstone */
    if (zeros)
      pc_page_remove (p);
  }
  else {                        /* changed while in flight: later again */
    list_del (&p->dirty);
    list_add_tail (&e->dirty, &p->dirty);
    p->dirty_since = clock_now_ns ();
    pc_page_check (p);
  }
}

/* Write page P back, dropping the lock: PUT its buffer, or store a
 * tombstone or a page of zeros as absent (choose_mutation).  Called by a
 * worker with P dequeued, dirty and idle.  A PUT that finds the page
 * stored although the index said absent (EEXIST) leaves P owing a merge
 * if it was built from zeros (P->written), and queues it again at once.
 */
static void
mutate_page (struct page *p)
{
  struct pc_export *e = p->exp;
  bool was_stored = p->stored;
  void *buf = p->tombstone ? NULL : p->buf;
  enum mutation m;
  int r, saved_errno;

  p->stored = true;             /* whatever we send may land */
  attempt_begin (p, buf);
  pthread_mutex_unlock (&cache.lock);
  m = choose_mutation (buf, was_stored);
  r = send_mutation (p, m);
  saved_errno = errno;
  pthread_mutex_lock (&cache.lock);
  attempt_end (p);

  if (p->inflight_buf && p->inflight_buf != p->buf)
    pc_buf_put (p->inflight_buf);  /* a writer copied the page meanwhile */
  p->inflight_buf = NULL;

  if (r == 0)
    mutation_done (p, m, buf && m != PUT);
  else if (m == PUT && saved_errno == EEXIST) {
    /* Not a failure: the store recorded the page's ETag.  Without a map
     * every byte is the client's (written whole, or after a trim), and
     * the next PUT, with If-Match, is right as it is.
     */
    p->merge = p->written != NULL;
    nbdkit_debug ("cache: export '%s' page %" PRIu32 " is stored although "
                  "the index said absent: %s", e->name, p->index,
                  p->merge ? "merging what was written into it"
                  : "every byte of it was written here");
    pc_page_check (p);
    pc_queue_page (p);
  }
  else
    attempt_failed (p, saved_errno, m == PUT ? "write" : "delete");
  pthread_cond_broadcast (&cache.changed);
  pthread_cond_signal (&cache.work);     /* a slot for the next one */
}

/* Merge page P (dirty, idle, dequeued, P->merge): fetch the stored page
 * into a new buffer, dropping the lock, then lay the bytes written here
 * (P->written) over it and make that P's buffer.  P is in flight
 * meanwhile, so no PUT of it starts; nothing sends its buffer, so writers
 * change buffer and map in place, and the merge, with the lock again,
 * takes both as they are then.  A trim or a whole-page write meanwhile
 * makes the merge moot (P->merge is clear).  Then P is queued again: its
 * PUT goes with If-Match on the ETag the fetch recorded.  If the fetch
 * fails, or there is no buffer for it, P stays dirty and still owes the
 * merge, as a failed write stays dirty: no PUT of it until it is merged.
 */
static void
merge_page (struct page *p)
{
  struct pc_export *e = p->exp;
  void *real;
  int r = -1, saved_errno = ENOMEM;

  attempt_begin (p, NULL);
  real = pc_buf_get (false);
  if (real) {
    pthread_mutex_unlock (&cache.lock);
    r = store_read_page (e->store, p->index, real, pc_page_size ());
    saved_errno = errno;
    pthread_mutex_lock (&cache.lock);
  }
  attempt_end (p);
  if (r == 0) {
    nbdkit_error ("export '%s': page %" PRIu32 " was found stored, but is "
                  "not in the store when fetched for the merge: it stays "
                  "dirty", e->name, p->index);
    saved_errno = EIO;
  }
  if (r == 1 && p->merge) {
    written_merge (p->written, p->buf, real);
    pc_buf_put (p->buf);
    p->buf = real;
    real = NULL;
    pc_forget_written (p);
    PC_COUNT (e, fetches, 1);
    PC_COUNT (e, bytes_down, pc_page_size ());
    nbdkit_debug ("cache: export '%s' page %" PRIu32 ": merged what was "
                  "written into the stored page", e->name, p->index);
  }
  if (real)
    pc_buf_put (real);
  if (r == 1 || !p->merge) {
    pc_page_check (p);
    pc_queue_page (p);
  }
  else
    attempt_failed (p, saved_errno, "merge");
  pthread_cond_broadcast (&cache.changed);
  pthread_cond_signal (&cache.work);
}

static void *
worker (void *arg)
{
  pthread_mutex_lock (&cache.lock);
  for (;;) {
    struct page *p;
    bool can_mutate;

    pc_stats_tick ();
    pc_schedule_background (false);
    can_mutate = !list_empty (&cache.queue) &&
      cache.nmutating < mutation_limit ();
    if (!list_empty (&cache.fetches)) {         /* reads first */
      p = list_entry (cache.fetches.next, struct page, queue);
      list_del (&p->queue);
      p->queued = false;
      pc_load_page (p, false);
    }
    else if (can_mutate) {
      p = list_entry (cache.queue.next, struct page, queue);
      list_del (&p->queue);
      p->queued = false;
      cache.nqueued--;
      pc_page_check (p);
      if (pc_is_dirty (p) && !p->inflight) {
        if (p->merge)
          merge_page (p);
        else
          mutate_page (p);
      }
    }
    else if (cache.stopping && list_empty (&cache.queue))
      break;
    else {
      clock_cond_wait (&cache.work, &cache.lock, clock_now_ns () + NS_PER_SEC / 4);
    }
  }
  pthread_mutex_unlock (&cache.lock);
  return NULL;
}

/* pages.c's make_room hook: every buffer is dirty and a writer waits. */
static void
make_room (void)
{
  pc_schedule_background (true);
}

/* Set up write-back after pc_pages_init: the plan of requests in flight
 * (inflight.h), one worker thread per request (not started yet: the
 * store calls block, and an idle worker costs a stack and a wait), and
 * the make_room hook.  While reads wait, write-back leaves the plan's
 * read reserve to them; otherwise it may use every request.  0 or -1.
 */
int
pc_writeback_init (void)
{
  inflight_plan (cache.cfg.page_size, cache.cfg.budget,
                 cache.cfg.inflight_bytes, cache.cfg.connections,
                 &cache.plan);
  cache.nworkers = cache.plan.requests;
  nbdkit_debug ("cache: %u requests in flight (%" PRIu64 " bytes aimed "
                "at), %u kept for reads, read-ahead %" PRIu64 " pages",
                cache.plan.requests, cache.plan.target_bytes,
                cache.plan.read_reserve, cache.plan.readahead_pages);
  cache.workers = calloc (cache.nworkers, sizeof (pthread_t));
  if (cache.workers == NULL) {
    nbdkit_error ("cache: out of memory");
    return -1;
  }
  cache.make_room = make_room;
  cache.stopping = cache.final_done = cache.cancelled = false;
  cache.shutdown_deadline = 0;
  cache.stats_logged = cache.stats_file_at = clock_now_ns ();
  return 0;
}

void
pc_writeback_free (void)
{
  free (cache.workers);
  cache.workers = NULL;
  cache.make_room = NULL;
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

/* Cancel the requests of every export's store (cache.lock held). */
static void
cancel_stores (void)
{
  struct list *l;

  if (cache.cancelled)
    return;
  cache.cancelled = true;
  list_for_each (l, &cache.exports)
    store_cancel (list_entry (l, struct pc_export, link)->store->store);
}

/* The dirty pages and exports now (cache.lock held). */
static void
count_dirty (uint64_t *pages, unsigned *exports)
{
  struct list *l;

  *pages = 0;
  *exports = 0;
  list_for_each (l, &cache.exports) {
    struct pc_export *e = list_entry (l, struct pc_export, link);

    *pages += e->ndirty;
    *exports += e->ndirty > 0;
  }
}

void
pagecache_begin_shutdown (void)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&cache.lock);
  uint64_t pages;
  unsigned exports;

  if (cache.shutdown_deadline)
    return;
  cache.shutdown_deadline = clock_now_ns ()
    + cache.cfg.shutdown_timeout * NS_PER_SEC;
  count_dirty (&pages, &exports);
  if (pages)
    nbdkit_error ("shutting down: writing back %" PRIu64 " dirty pages "
                  "(%.1f MiB) of %u exports within "
                  "shutdown-timeout=%u s", pages,
                  (double) (pages << cache.page_shift) / (1 << 20), exports,
                  cache.cfg.shutdown_timeout);
  else
    nbdkit_debug ("shutting down: no dirty pages");
  pthread_cond_broadcast (&cache.changed);      /* clients' waits end */
  while (!cache.final_done &&
         clock_cond_wait (&cache.changed, &cache.lock,
                          cache.shutdown_deadline) != ETIMEDOUT)
    ;
  if (!cache.final_done) {
    nbdkit_debug ("shutdown-timeout reached: cancelling store requests");
    cancel_stores ();
  }
}

int
pagecache_shutdown (void)
{
  const int64_t start = clock_now_ns ();
  uint64_t pages;
  unsigned exports;
  struct list *l;
  int r = 0;

  pthread_mutex_lock (&cache.lock);
  if (cache.shutdown_deadline == 0)
    cache.shutdown_deadline = start + cache.cfg.shutdown_timeout * NS_PER_SEC;
  list_for_each (l, &cache.exports) {
    struct pc_export *e = list_entry (l, struct pc_export, link);
    if (pc_flush_export_until (e, cache.shutdown_deadline, true) == -1)
      r = -1;
  }
  count_dirty (&pages, &exports);
  if (pages)
    nbdkit_error ("shutdown: %" PRIu64 " dirty pages (%" PRIu64 " bytes) of "
                  "%u exports were not written back (each is named above "
                  "with its error); they are lost", pages,
                  pages << cache.page_shift, exports);
  else
    nbdkit_debug ("shutdown: every dirty page written back in %.1f s",
                  (clock_now_ns () - start) / 1e9);
  /* Requests still retrying (write-back past the deadline, read-ahead)
   * give up, so the workers can be joined now, within the bound.
   */
  cancel_stores ();
  cache.final_done = true;
  cache.stopping = true;
  pthread_cond_broadcast (&cache.changed);
  pthread_cond_broadcast (&cache.work);
  pthread_mutex_unlock (&cache.lock);
  for (unsigned i = 0; i < cache.nstarted; ++i)
    pthread_join (cache.workers[i], NULL);
  cache.nstarted = 0;
  pc_stats_write_file ();       /* the counters after the final write-back */
  return r;
}

/* Make every mutation of E that has completed durable, for a store that
 * needs a sync (FS: one directory fsync for all pages written).  Only one
 * sync runs at a time; a flush that needs a later one waits for it.
 */
static int
sync_store (struct pc_export *e)
{
  uint64_t need = e->mutated_seq;

  while (store_has_sync (e->store) && e->synced_seq < need) {
    uint64_t covers = e->mutated_seq;
    int r;

    if (e->syncing) {
      pthread_cond_wait (&cache.changed, &cache.lock);
      continue;
    }
    e->syncing = true;
    pthread_mutex_unlock (&cache.lock);
    r = store_sync (e->store);
    pthread_mutex_lock (&cache.lock);
    e->syncing = false;
    pthread_cond_broadcast (&cache.changed);
    if (r == -1)
      return -1;
    if (e->synced_seq < covers)
      e->synced_seq = covers;
  }
  return 0;
}

/* true if an attempt to write target T that started after the flush did
 * (after mutation number SINCE) has failed.
 */
static bool
target_failed (struct pc_export *e, const struct flush_target *t,
               uint64_t since, int *err)
{
  struct page *p = pc_page_lookup (e, t->index);

  if (p && p->durable_gen < t->gen && p->failed_attempt > since &&
      p->fail_gen >= t->gen) {
    *err = p->fail_errno;
    return true;
  }
  return false;
}

/* Wait until every target is durable, or one has failed since this flush
 * began, or DEADLINE passes.  A failure ends the wait at once, so that a
 * flush against an unreachable store fails within one request's retry
 * deadline, not one per page; the pages stay dirty and queued.  With
 * NAME_FAILURES (the final write-back), waits for every page instead and
 * reports each one not written.
 */
static int
flush_targets (struct pc_export *e, struct flush_target *t, size_t n,
               int64_t deadline, bool name_failures)
{
  uint64_t start_seq = cache.attempt_seq, scanned = e->fail_seq;
  int first_errno = 0;

  for (size_t i = 0; i < n; ++i) {
    struct page *p = pc_page_lookup (e, t[i].index);
    if (p) {
      pc_queue_page (p);
      p->retry_at = 0;
    }
  }
  for (size_t i = 0; i < n;) {
    struct page *p = pc_page_lookup (e, t[i].index);
    int err = 0;

    if (p == NULL || p->durable_gen >= t[i].gen) {
      i++;
      continue;
    }
    if (!target_failed (e, &t[i], start_seq, &err)) {
      if (!name_failures && e->fail_seq > scanned) {
        /* A page of the export failed: one of ours further on? */
        scanned = e->fail_seq;
        for (size_t k = i + 1; k < n && err == 0; ++k)
          target_failed (e, &t[k], start_seq, &err);
        if (err) {
          first_errno = err;
          break;
        }
      }
      pc_queue_page (p);        /* e.g. it changed while being written */
      if (!name_failures && cache.shutdown_deadline)
        err = ESHUTDOWN;        /* the final write-back takes over */
      else if (clock_cond_wait (&cache.changed, &cache.lock, deadline)
               != ETIMEDOUT)
        continue;
      else                      /* why it is not written: its last error */
        err = p->fail_errno && p->failed_attempt ? p->fail_errno : ETIMEDOUT;
    }
    if (first_errno == 0)
      first_errno = err;
    if (name_failures)
      nbdkit_error ("export '%s': page %" PRIu32 " (bytes %" PRIu64 "-%"
                    PRIu64 ") could not be written back: %s",
                    e->name, p->index, (uint64_t) p->index << cache.page_shift,
                    (((uint64_t) p->index + 1) << cache.page_shift) - 1,
                    err == ETIMEDOUT ? "not written by the deadline"
                    : strerror (err));
    i++;
    if (!name_failures)
      break;
  }
  if (first_errno) {
    if (first_errno == ESHUTDOWN)
      nbdkit_error ("export '%s': flush not finished: nbdkit is shutting "
                    "down, and the final write-back goes on within "
                    "shutdown-timeout", e->name);
    else if (!name_failures)
      nbdkit_error ("export '%s': flush failed: a page could not be "
                    "written to the store: %s; the pages stay dirty and "
                    "are retried", e->name, strerror (first_errno));
    errno = first_errno == ETIMEDOUT ? EIO : first_errno;
    return -1;
  }
  return sync_store (e);
}

int
pc_flush_export_until (struct pc_export *e, int64_t deadline, bool name_failures)
{
  struct flush_target *t;
  size_t n = 0, len = e->ndirty;
  struct list *l;
  int r;

  if (len == 0)
    return sync_store (e);     /* pages written in the background */
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
  r = pc_flush_export_until (e, 0, false);
  pthread_mutex_unlock (&cache.lock);
  return r;
}

/* Make the pages of [offset, offset+count) durable (FUA). */
int
pc_flush_range (struct pc_export *e, uint32_t count, uint64_t offset)
{
  uint32_t first = offset >> cache.page_shift;
  uint32_t last = (offset + count - 1) >> cache.page_shift;
  struct flush_target t[64];
  size_t n = 0;

  for (uint64_t i = first; i <= last; ++i) {
    struct page *p = pc_page_lookup (e, i);
    if (p && pc_is_dirty (p)) {
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
