/* SPDX-License-Identifier: MIT
 *
 * The page cache's private parts, shared by its four files, which depend
 * on each other in a line, from the bottom:
 *
 *   pages.c -> stats.c -> writeback.c -> pagecache.c
 *
 * pages.c (page table, buffers and the budget, page states) uses none of
 * the others: when the budget is full of dirty pages it calls the
 * make_room hook that writeback.c registers.  stats.c (the statistics
 * every part counts: the debug line and the statistics file) reads the
 * counters and pages.c's state.  writeback.c (store request slots,
 * loading pages, workers, write-back and flush) uses both, and its
 * workers run stats.c's periodic output.  pagecache.c (setting up,
 * exports, the data path) uses them all.  The rules and the state machine
 * are described at the top of pagecache.c.
 */

#ifndef NBDS3_PAGECACHE_IMPL_H
#define NBDS3_PAGECACHE_IMPL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "clock.h"
#include "inflight.h"
#include "list.h"
#include "pagecache.h"
#include "pageindex.h"
#include "written.h"


/* A dirty page older than this is written back even without a flush.
 * Pages a sequential writer fills go at once; this is for pages written
 * at random, which are often written again soon: uploading them every
 * few seconds would cost a whole-page PUT per small write.
 */
#define WRITEBACK_DELAY_NS (10 * NS_PER_SEC)
/* Background write-back starts when dirty buffers pass this share of the
 * budget (in percent).
 */
#define DIRTY_WATERMARK 50
/* First and longest delay before a failed page is retried in the
 * background (a flush retries at once).
 */
#define RETRY_MIN_NS (NS_PER_SEC / 2)
#define RETRY_MAX_NS (30 * NS_PER_SEC)
/* The debug line of -D nbds3.stats=1 (when something changed), and the
 * statistics file.
 */
#define STATS_INTERVAL_NS (5 * NS_PER_SEC)
#define STATS_FILE_INTERVAL_NS NS_PER_SEC

/* Count N events of FIELD (of struct pagecache_stats) for export E and in
 * the process total.
 */
#define PC_COUNT(e, field, n) \
  do { (e)->stats.field += (n); cache.stats.field += (n); } while (0)

struct page {
  struct pc_export *exp;
  uint32_t index;
  struct page *hash_next;
  struct list lru;              /* in cache.lru: clean, idle, with a buffer */
  struct list dirty;            /* in exp->dirty while dirty */
  struct list queue;            /* in cache.queue or cache.fetches */
  void *buf;                    /* the page's bytes; NULL for a tombstone */
  void *inflight_buf;           /* what the PUT in flight sends */
  struct written *written;      /* for a page built from zeros because the
                                   index said absent: the bytes written
                                   since (written.h); NULL otherwise */
  uint64_t gen;                 /* generation of the latest change */
  uint64_t durable_gen;         /* generation known to be in the store */
  uint64_t inflight_gen;        /* generation the mutation in flight stores */
  uint64_t attempt_seq;         /* cache.attempt_seq of its last mutation */
  uint64_t failed_attempt;      /* ... and of its last failed one */
  uint64_t fail_gen;            /* generation that failed then */
  int fail_errno;
  int64_t retry_at;             /* no background retry before (monotonic) */
  int64_t dirty_since;
  uint32_t filled;              /* written in order from offset 0 since
                                   it was last clean, up to here */
  unsigned retries;             /* consecutive failures */
  bool loading;                 /* a fetch into buf is in flight, or
                                   queued (read-ahead) */
  bool tombstone;               /* reads as zeros; DELETE pending or done */
  bool stored;                  /* the store may hold an object for it */
  bool inflight;                /* a PUT or DELETE is in flight, or the
                                   fetch of a merge */
  bool merge;                   /* the store holds the page after all
                                   (EEXIST): fetch it and lay what was
                                   written over it before the next PUT */
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
  uint64_t ndirty;              /* ... how many */
  unsigned ninflight;           /* pages in flight (attempt_begin) */
  struct pagecache_stats stats; /* its counters (PC_COUNT) */
  struct pagecache_stats file_base;     /* ... at the last statistics
                                           file, for its rates */
  uint64_t gen_seq;             /* last generation handed out */
  uint64_t mutated_seq;         /* store mutations completed */
  uint64_t fail_seq;            /* cache.fail_seq of its last failure */
  uint64_t synced_seq;          /* ... of which made durable by sync */
  bool syncing;                 /* a store sync is running */
  uint64_t ra_next;             /* page a sequential reader reads next */
  uint64_t ra_high;             /* read-ahead issued up to here */
  unsigned ra_streak;           /* sequential reads in a row */
};

/* A page a flush waits for. */
struct flush_target {
  uint32_t index;
  uint64_t gen;
};

struct pagecache_state {
  pthread_mutex_t lock;         /* guards everything here and every page */
  pthread_cond_t changed;       /* a page changed state, or memory freed */
  pthread_cond_t work;          /* work was queued, or stopping */
  pthread_cond_t request_done;  /* a store request ended: a slot is free */
  struct pagecache_config cfg;
  unsigned page_shift;
  uint64_t used;                /* bytes of page buffers, pool included */
  void **pool;                  /* free buffers kept for reuse */
  unsigned npool, pool_max;
  uint64_t ndirty;              /* dirty pages, all exports */
  unsigned nqueued;             /* pages in the queue */
  unsigned nmutating;           /* mutations in flight */
  unsigned requests;            /* store requests in flight */
  unsigned nreading;            /* fetches in flight or waiting for a slot */
  struct list lru;              /* clean pages, least recently used first */
  struct list queue;            /* write-back, first come first served */
  struct list fetches;          /* read-ahead waiting for a worker */
  struct list exports;          /* open exports */
  uint64_t fail_seq;            /* counts failed mutations */
  uint64_t attempt_seq;         /* counts mutations started */
  pthread_t *workers;
  unsigned nworkers, nstarted;
  struct inflight_plan plan;    /* requests in flight, the read
                                   reserve, the read-ahead depth */
  void (*make_room) (void);     /* called by pc_buf_get before it waits
                                   for memory (set by writeback.c) */
  bool stopping;
  /* Shutdown (pagecache_begin_shutdown): when it began, its deadline
   * (monotonic ns; 0: not begun), whether the final write-back is done
   * and whether the deadline cancelled the stores' requests.
   */
  int64_t shutdown_deadline;
  bool final_done, cancelled;
  struct pagecache_stats stats; /* the process total (PC_COUNT) */
  /* stats.c's periodic output: when the debug line was last due and what
   * it said; when the statistics file was last written and the total
   * then; stats_writing while a worker writes it.
   */
  int64_t stats_logged, stats_file_at;
  struct pagecache_stats stats_last_logged, stats_file_base;
  bool stats_writing;
};

extern struct pagecache_state cache;


static inline uint32_t
pc_page_size (void)
{
  return cache.cfg.page_size;
}

static inline bool
pc_is_dirty (const struct page *p)
{
  return p->gen > p->durable_gen;
}

/* pages.c: the page table, buffers, page states.  All with cache.lock
 * held, except pc_pages_init and pc_pages_free.
 */
extern int pc_pages_init (const struct pagecache_config *config);
extern void pc_pages_free (void);
extern struct page *pc_page_lookup (const struct pc_export *e,
                                    uint32_t index);
extern struct page *pc_page_new (struct pc_export *e, uint32_t index);
extern void pc_page_remove (struct page *p);
extern void *pc_buf_get (bool may_wait);
extern void pc_buf_put (void *buf);
extern void pc_lru_add (struct page *p);
extern void pc_lru_touch (struct page *p);
extern void pc_mark_dirty (struct page *p);
extern void pc_mark_clean (struct page *p);
extern void pc_forget_written (struct page *p);
#ifndef NDEBUG
extern void pc_page_check (const struct page *p);
#else
static inline void
pc_page_check (const struct page *p)
{
}
#endif

/* stats.c, using pages.c.  pc_stats_tick with cache.lock held (it drops
 * it for output); pc_stats_write_file without.
 */
extern void pc_stats_tick (void);
extern void pc_stats_write_file (void);

/* writeback.c, using pages.c and stats.c.  All with cache.lock held, except
 * pc_writeback_init and pc_writeback_free.
 */
extern int pc_writeback_init (void);
extern void pc_writeback_free (void);
extern int pc_load_page (struct page *p, bool foreground);
extern void pc_queue_page (struct page *p);
extern void pc_schedule_background (bool pressure);
extern int pc_flush_export_until (struct pc_export *e, int64_t deadline,
                                  bool name_failures);
extern int pc_flush_range (struct pc_export *e, uint32_t count,
                           uint64_t offset);

/* pagecache.c, using both, has nothing private: it implements pagecache.h. */

#endif /* NBDS3_PAGECACHE_IMPL_H */
