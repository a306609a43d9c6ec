/* SPDX-License-Identifier: MIT
 *
 * The cache's statistics, going out: what every part of the cache counts
 * (PC_COUNT, per export and in total, in cache.stats and each export's
 * stats) together with the state of its pages now, for
 * pagecache_get_stats, the debug line of -D nbds3.stats=1 (every
 * STATS_INTERVAL_NS, only when something changed since the last one) and
 * the statistics file of stats-file= (JSON, rewritten atomically every
 * STATS_FILE_INTERVAL_NS and after the final write-back, with the rates
 * since the last one).  A worker runs pc_stats_tick from its loop; the
 * counters are copied under cache.lock and written out after it is
 * dropped.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nbdkit-plugin.h>

#include "cleanup.h"
#include "debug.h"
#include "pagecache-impl.h"

/* What one statistics file says, copied under cache.lock: the counters
 * now and at the last file (the base of the rates), in total and for
 * each open export.
 */
struct export_snap {
  char *name;
  struct pagecache_stats now, base;
};

struct snapshot {
  struct timespec time;         /* wall clock */
  double interval;              /* seconds since the last file */
  uint32_t page_size;
  struct pagecache_stats total, total_base;
  size_t n;
  struct export_snap *exports;
};

/* The last write of the file failed, and that was reported.  Guarded by
 * being the one writer: a worker with cache.stats_writing set, or
 * pagecache_shutdown once the workers are joined.
 */
static bool file_failing;

/* The members of a statistics file's counters object, in order.  PAGES
 * is a count of pages, written as NAME_pages and NAME_bytes; RATE is the
 * counter's increase per second since the last file; BUFFER is only in
 * the total.
 */
enum kind { PAGES, COUNT, RATE, BUFFER };

#define FIELD(f) offsetof (struct pagecache_stats, f)

static const struct field {
  const char *name;
  size_t offset;
  enum kind kind;
} fields[] = {
  { "dirty", FIELD (dirty_pages), PAGES },
  { "inflight", FIELD (inflight_pages), PAGES },
  { "cached", FIELD (cached_pages), PAGES },
  { "puts", FIELD (puts), COUNT },
  { "gets", FIELD (fetches), COUNT },
  { "deletes", FIELD (deletes), COUNT },
  { "zero_pages", FIELD (zero_pages), COUNT },
  { "retries", FIELD (retries), COUNT },
  { "errors", FIELD (errors), COUNT },
  { "hits", FIELD (hits), COUNT },
  { "misses", FIELD (misses), COUNT },
  { "prefetches", FIELD (prefetches), COUNT },
  { "evictions", FIELD (evictions), COUNT },
  { "bytes_up", FIELD (bytes_up), COUNT },
  { "bytes_down", FIELD (bytes_down), COUNT },
  { "puts_per_s", FIELD (puts), RATE },
  { "gets_per_s", FIELD (fetches), RATE },
  { "bytes_up_per_s", FIELD (bytes_up), RATE },
  { "bytes_down_per_s", FIELD (bytes_down), RATE },
  { "buffer_bytes", FIELD (used_bytes), BUFFER },
  { "peak_buffer_bytes", FIELD (peak_bytes), BUFFER },
};

/* Export E's counters and pages now.  cache.lock held. */
static void
export_stats (const struct pc_export *e, struct pagecache_stats *s)
{
  *s = e->stats;
  s->dirty_pages = e->ndirty;
  s->inflight_pages = e->ninflight;
  s->cached_pages = e->npresent;
}

/* The process's counters, pages and buffers now.  cache.lock held. */
static void
total_stats (struct pagecache_stats *s)
{
  struct list *l;

  *s = cache.stats;
  s->dirty_pages = cache.ndirty;
  s->inflight_pages = cache.nmutating;
  s->used_bytes = cache.used;
  s->cached_pages = 0;
  list_for_each (l, &cache.exports)
    s->cached_pages += list_entry (l, struct pc_export, link)->npresent;
}

void
pagecache_get_stats (struct pagecache_stats *s)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&cache.lock);

  total_stats (s);
}

static void
log_line (const char *why, const struct pagecache_stats *s)
{
  nbdkit_debug ("stats (%s): hits %" PRIu64 " misses %" PRIu64
                " prefetches %" PRIu64 " fetches %" PRIu64
                " puts %" PRIu64 " deletes %" PRIu64 " zero pages %" PRIu64
                " retries %" PRIu64
                " errors %" PRIu64 " evictions %" PRIu64
                " MiB down %" PRIu64 " MiB up %" PRIu64
                " dirty pages %" PRIu64 " in flight %" PRIu64
                " cached pages %" PRIu64
                " buffers MiB %" PRIu64 " (peak %" PRIu64 ")",
                why, s->hits, s->misses, s->prefetches, s->fetches, s->puts,
                s->deletes, s->zero_pages, s->retries, s->errors, s->evictions,
                s->bytes_down >> 20, s->bytes_up >> 20, s->dirty_pages,
                s->inflight_pages, s->cached_pages, s->used_bytes >> 20,
                s->peak_bytes >> 20);
}

void
pagecache_log_stats (const char *why)
{
  struct pagecache_stats s;

  pagecache_get_stats (&s);
  log_line (why, &s);
}

static void
snapshot_free (struct snapshot *snap)
{
  if (snap == NULL)
    return;
  for (size_t i = 0; i < snap->n; ++i)
    free (snap->exports[i].name);
  free (snap->exports);
  free (snap);
}

/* Copy what the statistics file says now (monotonic NOW), and make it the
 * base of the next file's rates.  cache.lock held.  NULL if out of
 * memory.
 */
static struct snapshot *
snapshot_take (int64_t now)
{
  struct snapshot *snap = calloc (1, sizeof *snap);
  size_t n = 0;
  struct list *l;

  list_for_each (l, &cache.exports)
    n++;
  if (snap == NULL ||
      (n && (snap->exports = calloc (n, sizeof *snap->exports)) == NULL))
    goto nomem;
  clock_gettime (CLOCK_REALTIME, &snap->time);
  snap->interval = (now - cache.stats_file_at) / 1e9;
  snap->page_size = pc_page_size ();
  total_stats (&snap->total);
  snap->total_base = cache.stats_file_base;
  list_for_each (l, &cache.exports) {
    struct pc_export *e = list_entry (l, struct pc_export, link);
    struct export_snap *x = &snap->exports[snap->n];

    if ((x->name = strdup (e->name)) == NULL)
      goto nomem;
    snap->n++;
    export_stats (e, &x->now);
    x->base = e->file_base;
  }
  cache.stats_file_at = now;
  cache.stats_file_base = snap->total;
  list_for_each (l, &cache.exports) {
    struct pc_export *e = list_entry (l, struct pc_export, link);
    e->file_base = e->stats;
  }
  return snap;

 nomem:
  snapshot_free (snap);
  return NULL;
}

/* S as a JSON string: '"', '\\' and control characters escaped, the
 * rest (UTF-8) as it is.
 */
static void
json_string (FILE *f, const char *s)
{
  putc ('"', f);
  for (; *s; ++s) {
    unsigned char c = *s;

    if (c == '"' || c == '\\')
      fprintf (f, "\\%c", c);
    else if (c < 0x20)
      fprintf (f, "\\u%04x", c);
    else
      putc (c, f);
  }
  putc ('"', f);
}

static uint64_t
field_of (const struct pagecache_stats *s, size_t offset)
{
  return *(const uint64_t *) ((const char *) s + offset);
}

/* One counters object: S now, rates since BASE over INTERVAL seconds;
 * TOTAL adds the buffer memory.
 */
static void
json_stats (FILE *f, const struct pagecache_stats *s,
            const struct pagecache_stats *base, double interval,
            uint32_t page_size, bool total)
{
  const char *sep = "{";

  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; ++i) {
    const struct field *k = &fields[i];
    uint64_t v = field_of (s, k->offset), was = field_of (base, k->offset);

    switch (k->kind) {
    case PAGES:
      fprintf (f, "%s\"%s_pages\": %" PRIu64 ", \"%s_bytes\": %" PRIu64,
               sep, k->name, v, k->name, v * page_size);
      break;
    case RATE:
      fprintf (f, "%s\"%s\": %.1f", sep, k->name,
               interval > 0 && v >= was ? (v - was) / interval : 0.0);
      break;
    case BUFFER:
      if (!total)
        continue;
      /* fall through */
    case COUNT:
      fprintf (f, "%s\"%s\": %" PRIu64, sep, k->name, v);
      break;
    }
    sep = ", ";
  }
  putc ('}', f);
}

static void
json_snapshot (FILE *f, const struct snapshot *snap)
{
  fprintf (f, "{\"time\": %lld.%03ld, \"interval_s\": %.3f, "
           "\"pid\": %ld, \"page_size\": %" PRIu32 ",\n \"total\": ",
           (long long) snap->time.tv_sec, snap->time.tv_nsec / 1000000,
           snap->interval, (long) getpid (), snap->page_size);
  json_stats (f, &snap->total, &snap->total_base, snap->interval,
              snap->page_size, true);
  fputs (",\n \"exports\": {", f);
  for (size_t i = 0; i < snap->n; ++i) {
    fputs (i ? ",\n  " : "\n  ", f);
    json_string (f, snap->exports[i].name);
    fputs (": ", f);
    json_stats (f, &snap->exports[i].now, &snap->exports[i].base,
                snap->interval, snap->page_size, false);
  }
  fputs (snap->n ? "\n }}\n" : "}}\n", f);
}

/* Write SNAP to PATH.tmp and rename it to PATH.  0 or -1 (errno set). */
static int
file_write (const struct snapshot *snap, const char *path)
{
  size_t len = strlen (path);
  char *tmp = malloc (len + sizeof ".tmp");
  FILE *f;
  int r = -1, saved_errno;

  if (tmp == NULL)
    return -1;
  memcpy (tmp, path, len);
  memcpy (tmp + len, ".tmp", sizeof ".tmp");
  f = fopen (tmp, "w");
  if (f) {
    bool failed;

    json_snapshot (f, snap);
    failed = ferror (f);
    if (fclose (f) == 0 && !failed && rename (tmp, path) == 0)
      r = 0;
    if (r == -1) {
      saved_errno = errno;
      unlink (tmp);
      errno = saved_errno;
    }
  }
  free (tmp);
  return r;
}

/* Write SNAP (NULL: out of memory) and free it; report the first failure
 * and the recovery.  cache.lock not held.
 */
static void
file_update (struct snapshot *snap)
{
  const char *path = cache.cfg.stats_file;
  int r = -1;

  errno = ENOMEM;
  if (snap)
    r = file_write (snap, path);
  if (r == -1 && !file_failing)
    nbdkit_error ("stats-file=%s: cannot write the statistics file: %m "
                  "(nbds3 goes on and tries again every second)",
                  path);
  else if (r == 0 && file_failing)
    nbdkit_error ("stats-file=%s: written again", path);
  file_failing = r == -1;
  snapshot_free (snap);
}

void
pc_stats_tick (void)
{
  int64_t now = clock_now_ns ();

  if (nbds3_debug_stats && now - cache.stats_logged >= STATS_INTERVAL_NS) {
    struct pagecache_stats s;

    cache.stats_logged = now;
    total_stats (&s);
    if (memcmp (&s, &cache.stats_last_logged, sizeof s) != 0) {
      cache.stats_last_logged = s;
      pthread_mutex_unlock (&cache.lock);
      log_line ("periodic", &s);
      pthread_mutex_lock (&cache.lock);
    }
  }
  if (cache.cfg.stats_file && !cache.stats_writing &&
      now - cache.stats_file_at >= STATS_FILE_INTERVAL_NS) {
    struct snapshot *snap = snapshot_take (now);

    /* Out of memory: try again at the next interval, not at once. */
    cache.stats_file_at = now;
    cache.stats_writing = true;
    pthread_mutex_unlock (&cache.lock);
    file_update (snap);
    pthread_mutex_lock (&cache.lock);
    cache.stats_writing = false;
  }
}

void
pc_stats_write_file (void)
{
  struct snapshot *snap;

  if (cache.cfg.stats_file == NULL)
    return;
  pthread_mutex_lock (&cache.lock);
  snap = snapshot_take (clock_now_ns ());
  pthread_mutex_unlock (&cache.lock);
  file_update (snap);
}
