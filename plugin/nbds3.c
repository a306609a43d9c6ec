/* SPDX-License-Identifier: MIT
 *
 * The nbdkit callbacks.  This file turns NBD exports into page-cache
 * exports: it owns the registry of open exports (one per name, shared by
 * all its connections), creates an export's metadata on its first write,
 * and maps each callback to the cache (a clone through the chain of its
 * bases, store-chain.c; a snapshot, read-only, never claimed or
 * written).  The store is made in .get_ready, the cache's threads start
 * in .after_fork, and the final write-back runs in .cleanup, because on
 * SIGTERM nbdkit calls .cleanup without calling .close.
 *
 * The registry is bounded, because any client can name exports: at most
 * max-exports are open at once.  An export whose last connection closed
 * stays open for linger seconds (a reconnect keeps its cache and skips
 * the listing), then is closed once nothing of it is dirty or in flight,
 * releasing its descriptor (FS), lease (S3) and memory; a name that does
 * not exist is closed with its last connection.  At the bound, an open
 * of another name closes the export unused longest, or fails if every
 * one is in use.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "clock.h"
#include "debug.h"
#include "escape.h"
#include "list.h"
#include "options.h"
#include "pagecache.h"
#include "startup.h"
#include "store-chain.h"
#include "store-s3.h"
#include "store.h"
#include "store-snap.h"

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

/* nbdkit 1.32 refuses a minimum block size over 64K and a preferred one
 * over 32M.
 */
#define MAX_PREFERRED_BLOCK (32 << 20)

struct export {
  struct list link;             /* in exports */
  char *name;
  unsigned connections;         /* guarded by registry_lock */
  bool opening;                 /* a placeholder while being opened */
  bool closing;                 /* being closed (export_close_idle) */
  unsigned closers;             /* last closes still writing it back */
  int64_t idle_since;           /* when its last close ended */
  struct store_export *store;
  struct pc_export *cache;
  uint64_t size;
  pthread_mutex_t create_lock;  /* serialises creating the metadata */
  bool created;                 /* metadata exists (atomic reads) */
  bool read_only;               /* a snapshot: never claimed or written */

  unsigned create_failures;     /* failed attempts to create it */
};

static void nbds3_close (void *handle);
static bool export_exists (struct export *e);

static struct store *store;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t registry_changed = PTHREAD_COND_INITIALIZER;
static struct list exports = { &exports, &exports };   /* registry_lock */
static unsigned nexports;       /* in exports, placeholders too; ditto */

static void
nbds3_unload (void)
{
  config_free ();
}

static int
nbds3_config (const char *key, const char *value)
{
  return config_set (key, value);
}

static int
nbds3_config_complete (void)
{
  if (config_complete () == -1)
    return -1;
  startup_warn_nbdkit_version ();
  return 0;
}

/* Descriptors needed besides one per open export and one per store
 * request in flight: nbdkit's own, clients' sockets, listings.
 */
#define FD_RESERVE 64

/* Descriptors a store keeps open besides those: the FS store's cached
 * page files.
 */
static uint64_t
store_reserve (void)
{
  return config.s3.bucket ? 0 : STORE_FS_CACHED_FDS;
}

/* Make room for max-exports under the file limit (ulimit -n): raise the
 * soft limit as far as needed and the hard limit allows; then lower a
 * default max-exports to fit, or refuse a given one.  0 or -1.
 */
static int
fit_file_limit (void)
{
  struct rlimit rl;
  uint64_t reserve = FD_RESERVE + store_reserve ();
  uint64_t need = (uint64_t) config.max_exports + config.requests +
    reserve;

  if (getrlimit (RLIMIT_NOFILE, &rl) == -1)
    return 0;
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
    struct rlimit want = rl;
    want.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need
      ? need : rl.rlim_max;
    if (setrlimit (RLIMIT_NOFILE, &want) == 0)
      rl = want;
  }
  if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
    return 0;
  if (config.max_exports_given ||
      rl.rlim_cur < config.requests + reserve + 1) {
    nbdkit_error ("max-exports=%" PRIu32 " and %" PRIu32 " requests in "
                  "flight (connections=, inflight-bytes=) need about %"
                  PRIu64 " file descriptors, but the "
                  "limit (ulimit -n) is %llu: raise the limit, or lower "
                  "max-exports", config.max_exports, config.requests,
                  need, (unsigned long long) rl.rlim_cur);
    return -1;
  }
  config.max_exports = rl.rlim_cur - config.requests - reserve;
  nbdkit_debug ("max-exports lowered to %" PRIu32 " to fit ulimit -n %llu",
                config.max_exports, (unsigned long long) rl.rlim_cur);
  return 0;
}

static int
nbds3_get_ready (void)
{
  struct pagecache_config cc = {
    .page_size = config.page_size,
    .budget = config.cache_size,
    .connections = config.requests,
    .inflight_bytes = config.inflight_bytes,
    .wait_timeout = config.cache_wait_timeout,
    .shutdown_timeout = config.shutdown_timeout,
    .stats_file = config.stats_file,
  };

  if (fit_file_limit () == -1)
    return -1;
  if (config.s3.bucket)
    store = store_s3_new (&config.s3);
  else
    store = store_fs_new (config.data_dir);
  if (store == NULL)
    return -1;
  if (store_ready (store) == -1 || pagecache_init (&cc) == -1) {
    store_free (store);
    store = NULL;               /* so .cleanup has nothing to do */
    return -1;
  }
  /* Answer snapshot requests of the exports this server holds: on S3 at
   * the lease's pace, on FS about every second.
   */
  store_snap_serve (config.s3.bucket ? config.s3.lease_timeout * 1000 / 6
                    : STORE_SNAP_FS_POLL_MS);
  return 0;
}

/* The shutdown watcher: nbdkit_nanosleep returns early (ESHUTDOWN) when
 * nbdkit is asked to stop, which no callback tells a plugin before
 * .cleanup; and nbdkit calls .cleanup only once every connection has
 * ended, which a client waiting in a flush delays.  So a thread of its
 * own sleeps in one-second steps until then, and starts the shutdown of
 * the cache (pagecache_begin_shutdown: log, deadline, end the clients'
 * waits, cancel at the deadline).  .cleanup stops it (watcher_stop).
 */
static pthread_t watcher;
static bool watcher_started, watcher_stop;      /* atomic */

static void exports_reap (void);

/* The same thread closes the exports that lingered long enough. */
static void *
watch_shutdown (void *arg)
{
  while (!__atomic_load_n (&watcher_stop, __ATOMIC_ACQUIRE)) {
    if (nbdkit_nanosleep (1, 0) == -1 && errno == ESHUTDOWN) {
      pagecache_begin_shutdown ();
      break;
    }
    exports_reap ();
  }
  return NULL;
}

static int
nbds3_after_fork (void)
{
  int err;

  if (pagecache_start () == -1)
    return -1;
  err = pthread_create (&watcher, NULL, watch_shutdown, NULL);
  if (err) {
    errno = err;
    nbdkit_error ("cannot start the shutdown watcher thread: %m");
    return -1;
  }
  watcher_started = true;
  return 0;
}

static void
export_free (struct export *e)
{
  if (e->cache)
    pagecache_close_export (e->cache);
  if (e->store)
    store_close_export (e->store);
  pthread_mutex_destroy (&e->create_lock);
  free (e->name);
  free (e);
}

/* Close E if nobody uses it and nothing of it is dirty or in flight:
 * its cache, its store export (FS: the directory's descriptor; S3: the
 * lease) and its memory go.  registry_lock held, and dropped meanwhile:
 * E stays listed, marked closing, so that opens of its name wait.  true
 * if it was closed.
 */
static bool
export_close_idle (struct export *e)
{
  if (e->connections > 0 || e->closers > 0 || e->opening || e->closing ||
      (e->cache && !pagecache_export_idle (e->cache)))
    return false;
  e->closing = true;
  pthread_mutex_unlock (&registry_lock);
  nbdkit_debug ("closing export '%s': unused", e->name);
  if (e->cache)
    pagecache_close_export (e->cache);  /* nothing to write back */
  store_close_export (e->store);        /* (S3: a request) */
  e->cache = NULL;
  e->store = NULL;
  pthread_mutex_lock (&registry_lock);
  list_del (&e->link);
  nexports--;
  pthread_cond_broadcast (&registry_changed);
  export_free (e);
  return true;
}

/* Close the exports that lingered long enough (the watcher thread). */
static void
exports_reap (void)
{
  int64_t linger = config.linger * NS_PER_SEC, now = clock_now_ns ();
  struct list *l;

  pthread_mutex_lock (&registry_lock);
 again:
  list_for_each (l, &exports) {
    struct export *e = list_entry (l, struct export, link);
    /* (Closing drops the lock, so the list is walked again after.) */
    if (e->connections == 0 && now - e->idle_since >= linger &&
        export_close_idle (e))
      goto again;
  }
  pthread_mutex_unlock (&registry_lock);
}

/* Room for one more export under max-exports: close the one unused
 * longest if needed.  registry_lock held (dropped while closing).  0,
 * or -1 if every open export is in use or still has dirty pages.
 */
static int
make_room (void)
{
  while (nexports >= config.max_exports) {
    struct export *oldest = NULL;
    bool closing = false;
    struct list *l;

    list_for_each (l, &exports) {
      struct export *e = list_entry (l, struct export, link);
      closing |= e->closing;
      if (e->connections == 0 && e->closers == 0 && !e->opening &&
          !e->closing &&
          (e->cache == NULL || pagecache_export_idle (e->cache)) &&
          (oldest == NULL || e->idle_since < oldest->idle_since))
        oldest = e;
    }
    if (oldest)
      export_close_idle (oldest);
    else if (closing)
      pthread_cond_wait (&registry_changed, &registry_lock);
    else
      return -1;
  }
  return 0;
}

static void
nbds3_cleanup (void)
{
  if (store == NULL)
    return;
  pagecache_shutdown ();
  if (watcher_started) {
    __atomic_store_n (&watcher_stop, true, __ATOMIC_RELEASE);
    pthread_join (watcher, NULL);
    watcher_started = false;
  }
  pthread_mutex_lock (&registry_lock);
  while (!list_empty (&exports)) {
    struct export *e = list_entry (exports.next, struct export, link);
    list_del (&e->link);
    if (!e->opening)            /* (a placeholder belongs to its opener) */
      export_free (e);
  }
  pthread_mutex_unlock (&registry_lock);
  pagecache_free ();
  store_free (store);
  store = NULL;
}

static int
add_export (void *opaque, const char *name)
{
  return nbdkit_add_export (opaque, name, NULL);
}

static int
nbds3_list_exports (int readonly, int is_tls, struct nbdkit_exports *list)
{
  return store_list_exports (store, add_export, list);
}

static const char *
nbds3_default_export (int readonly, int is_tls)
{
  return config.default_export;
}

/* The open export called NAME, or NULL.  registry_lock held. */
static struct export *
export_find (const char *name)
{
  struct list *l;

  list_for_each (l, &exports) {
    struct export *e = list_entry (l, struct export, link);
    if (strcmp (e->name, name) == 0)
      return e;
  }
  return NULL;
}

/* Take the store's single-writer guard of E (the S3 lease) for a
 * writable connection.  0 or -1.
 */
static int
export_claim (struct export *e)
{
  int r;

  pthread_mutex_lock (&e->create_lock);
  r = store_claim (e->store);
  /* Another process wrote it while the guard was free. */
  if (r == 1)
    r = pagecache_refresh (e->cache);
  pthread_mutex_unlock (&e->create_lock);
  return r;
}

/* E's last connection closed with nothing dirty: release its guard
 * (FS: the lock) unless a connection came meanwhile.
 */
static void
export_unclaim (struct export *e)
{
  bool idle;

  pthread_mutex_lock (&e->create_lock);
  pthread_mutex_lock (&registry_lock);
  idle = e->connections == 0;
  pthread_mutex_unlock (&registry_lock);
  if (idle)
    store_unclaim (e->store);
  pthread_mutex_unlock (&e->create_lock);
}

/* Clones and snapshots: the export E with metadata META is served
 * read-only if META says so (a snapshot: nothing claims or writes it,
 * nbds3_can_write), and through the chain of its bases if it has one
 * (store-chain.c: reads of pages it does not hold go to its bases;
 * writes, trims and zeros land in it alone).  0 or -1.
 */
static int
export_open_clone (struct export *e, const struct store_meta *meta)
{
  struct store_export *chain;

  e->read_only = meta->read_only;
  if (meta->base[0] == '\0')
    return 0;
  chain = store_chain_open (store, e->store, meta);
  if (chain == NULL)
    return -1;
  e->store = chain;
  return 0;
}

/* Open the export NAME in the store and its cache, without
 * registry_lock (nbds3_open holds a placeholder meanwhile).  For a
 * writable connection (not READONLY), an existing export is claimed
 * before its pages are listed.
 */
static struct export *
export_open (const char *name, bool readonly)
{
  struct export *e = calloc (1, sizeof *e);
  struct store_meta meta;
  int r;

  if (e == NULL || (e->name = strdup (name)) == NULL) {
    nbdkit_error ("out of memory opening export '%s'", name);
    free (e);
    return NULL;
  }
  pthread_mutex_init (&e->create_lock, NULL);
  e->store = store_open_export (store, name);
  if (e->store == NULL)
    goto err;
  r = store_read_meta (e->store, &meta);
  if (r == -1)
    goto err;
  e->created = r == 1;
  e->size = config.size;
  if (e->created) {
    if (meta.page_size != config.page_size) {
      nbdkit_error ("export '%s' was created with page-size=%" PRIu32
                    " but nbdkit was started with page-size=%" PRIu64
                    ": restart with page-size=%" PRIu32
                    " (or use another export name)",
                    name, meta.page_size, config.page_size, meta.page_size);
      goto err;
    }
    if (meta.size / meta.page_size > UINT32_MAX) {
      nbdkit_error ("export '%s': recorded size %" PRIu64 " is too large",
                    name, meta.size);
      goto err;
    }
    e->size = meta.size;
    if (export_open_clone (e, &meta) == -1)
      goto err;
    if (!readonly && !e->read_only && export_claim (e) == -1)
      goto err;
  }
  e->cache = pagecache_open_export (e->store, name, e->size,
                                    config.page_size, e->created);
  if (e->cache == NULL)
    goto err;
  /* Once per export: it stays open after its last connection. */
  if (e->created && config.size_given && e->size != config.size)
    nbdkit_error ("export '%s' keeps its recorded size %" PRIu64 "; size=%"
                  PRIu64 " applies only to new exports",
                  name, e->size, config.size);
  return e;

 err:
  export_free (e);
  return NULL;
}

static void *
nbds3_open (int readonly)
{
  const char *name = nbdkit_export_name ();
  struct export *e;
  char shown[ESCAPE_SIZE];

  if (name == NULL || *name == '\0')
    name = config.default_export;
  if (!store_export_name_valid (name)) {
    nbdkit_error ("export name '%s' is not valid: use 1-200 bytes of UTF-8 "
                  "without '/', control characters or a leading '.'",
                  escape_for_log (name, shown));
    return NULL;
  }
  pthread_mutex_lock (&registry_lock);
  for (;;) {
    e = export_find (name);
    if (e == NULL || !(e->opening || e->closing))
      break;
    pthread_cond_wait (&registry_changed, &registry_lock);
  }
  if (e == NULL && make_room () == -1)
    nbdkit_error ("export '%s' cannot be opened: %u exports are open and "
                  "in use or still being written back (max-exports=%"
                  PRIu32 "): try again later, or raise max-exports", name,
                  nexports, config.max_exports);
  else if (e == NULL) {
    /* Open it without the lock (a store round trip or a listing may take
     * a while), behind a placeholder that others with the name wait on.
     */
    struct export placeholder = { .name = (char *) name, .opening = true };

    list_add_tail (&exports, &placeholder.link);
    nexports++;
    pthread_mutex_unlock (&registry_lock);
    e = export_open (name, readonly);
    pthread_mutex_lock (&registry_lock);
    list_del (&placeholder.link);
    if (e)
      list_add_tail (&exports, &e->link);
    else
      nexports--;
    pthread_cond_broadcast (&registry_changed);
  }
  if (e)
    e->connections++;
  pthread_mutex_unlock (&registry_lock);
  /* Opened by read-only connections so far: claim it now. */
  if (e && !readonly && !e->read_only && export_exists (e) &&
      export_claim (e) == -1) {
    nbds3_close (e);
    return NULL;
  }
  return e;
}

/* The last connection's close writes the export back; the export then
 * lingers (see the top of this file), unless it does not exist.
 */
static void
nbds3_close (void *handle)
{
  struct export *e = handle;
  bool last;

  pthread_mutex_lock (&registry_lock);
  last = --e->connections == 0;
  e->closers += last;           /* (so that nobody closes E meanwhile) */
  pthread_mutex_unlock (&registry_lock);
  if (!last)
    return;
  if (pagecache_flush (e->cache) == 0)
    export_unclaim (e);
  pagecache_log_stats (e->name);
  pthread_mutex_lock (&registry_lock);
  if (--e->closers == 0 && e->connections == 0) {
    e->idle_since = clock_now_ns ();
    if (!export_exists (e) || config.linger == 0)
      export_close_idle (e);
  }
  pthread_mutex_unlock (&registry_lock);
}

/* With the single-writer guard just taken: is E still not created?  1
 * if it exists after all (another server created it since this one
 * opened it, or the store said NoSuchKey wrongly): its pages are then
 * listed into the page index now, before anything is written (reads of
 * an export not created never touched the cache).  0 if it is still
 * new, -1 after nbdkit_error (errno EINVAL: it exists with another size
 * or page size than this server already announced).
 */
static int
export_still_new (struct export *e)
{
  struct store_meta meta;
  int r = store_read_meta (e->store, &meta);

  if (r <= 0)
    return r;
  if (meta.page_size != config.page_size || meta.size != e->size) {
    nbdkit_error ("export '%s' was created by another server after this "
                  "one opened it, with size %" PRIu64 " and page size %"
                  PRIu32 ": restart nbdkit to serve it", e->name, meta.size,
                  meta.page_size);
    errno = EINVAL;
    return -1;
  }
  nbdkit_error ("export '%s' exists after all (created by another server "
                "after this one opened it, or a wrong answer from the "
                "store): listing its pages before writing", e->name);
  return pagecache_list_stored (e->cache) == -1 ? -1 : 1;
}

/* Write the export's metadata before its first page.  Writes that
 * waited while an attempt failed fail with it rather than try again one
 * after the other (each attempt may retry for retry-deadline).
 */
static int
export_create (struct export *e)
{
  struct store_meta meta = {
    .version = STORE_META_VERSION_PLAIN,
    .size = e->size,
    .page_size = config.page_size,
    .checksums = true,
  };
  unsigned failures;
  int r = 0;

  if (e->read_only) {           /* (nbds3_can_write says 0) */
    nbdkit_error ("export '%s' is read-only (a snapshot): not written",
                  e->name);
    errno = EROFS;
    return -1;
  }
  if (__atomic_load_n (&e->created, __ATOMIC_ACQUIRE))
    return 0;
  failures = __atomic_load_n (&e->create_failures, __ATOMIC_ACQUIRE);
  pthread_mutex_lock (&e->create_lock);
  if (!e->created && e->create_failures != failures) {
    nbdkit_error ("export '%s' could not be created in the store "
                  "(see the error above)", e->name);
    errno = EIO;
    r = -1;
  }
  else if (!e->created) {
    r = store_claim (e->store);
    if (r >= 0)
      r = export_still_new (e);
    if (r == 0)
      r = store_write_meta (e->store, &meta);
    else if (r == 1)
      r = 0;                    /* it exists: nothing to create */
    if (r == -1)
      __atomic_add_fetch (&e->create_failures, 1, __ATOMIC_RELEASE);
    else {
      nbdkit_debug ("created export '%s': %" PRIu64 " bytes, page-size %"
                    PRIu64, e->name, e->size, config.page_size);
      __atomic_store_n (&e->created, true, __ATOMIC_RELEASE);
    }
  }
  pthread_mutex_unlock (&e->create_lock);
  return r;
}

/* R, with errno as the client should see it: nbdkit 1.32 sends EINVAL
 * for every errno NBD has no code for, which tells nothing; the log line
 * reported with the error says the real cause.
 */
static int
for_client (int r)
{
  if (r == 0)
    return 0;
  switch (errno) {
  case EPERM: case EROFS: case EIO: case ENOMEM: case ENOSPC: case EDQUOT:
  case EFBIG: case ESHUTDOWN: case ENOTSUP: case EOVERFLOW: case EINVAL:
    break;
  case EBUSY: case EACCES:      /* another holder; a refused store */
    errno = EPERM;
    break;
  case EMFILE: case ENFILE:     /* out of descriptors: a resource */
    errno = ENOMEM;
    break;
  case EEXIST:                  /* created elsewhere since it was opened */
    errno = EINVAL;
    break;
  default:                      /* the store failed */
    errno = EIO;
  }
  return r;
}

static bool
export_exists (struct export *e)
{
  return __atomic_load_n (&e->created, __ATOMIC_ACQUIRE);
}

static int64_t
nbds3_get_size (void *handle)
{
  struct export *e = handle;

  return e->size;
}

static int
nbds3_block_size (void *handle, uint32_t *minimum, uint32_t *preferred,
                  uint32_t *maximum)
{
  *minimum = 1;
  *preferred = config.page_size < MAX_PREFERRED_BLOCK
    ? config.page_size : MAX_PREFERRED_BLOCK;
  *maximum = 0xffffffff;
  return 0;
}

/* A snapshot is never written: nbdkit serves it read-only. */
static int
nbds3_can_write (void *handle)
{
  struct export *e = handle;

  return !e->read_only;
}

static int
nbds3_can_multi_conn (void *handle)
{
  return 1;                     /* one cache per export, shared */
}

static int
nbds3_can_flush (void *handle)
{
  return 1;
}

static int
nbds3_can_fua (void *handle)
{
  return NBDKIT_FUA_NATIVE;
}

static int
nbds3_can_trim (void *handle)
{
  return 1;
}

static int
nbds3_can_zero (void *handle)
{
  return 1;
}

static int
nbds3_can_fast_zero (void *handle)
{
  return 1;
}

static int
nbds3_can_extents (void *handle)
{
  return 1;
}

static int
nbds3_can_cache (void *handle)
{
  return NBDKIT_CACHE_NATIVE;
}

static int
nbds3_pread (void *handle, void *buf, uint32_t count, uint64_t offset,
             uint32_t flags)
{
  struct export *e = handle;

  if (!export_exists (e)) {
    memset (buf, 0, count);
    return 0;
  }
  return for_client (pagecache_read (e->cache, buf, count, offset));
}

static int
nbds3_pwrite (void *handle, const void *buf, uint32_t count, uint64_t offset,
              uint32_t flags)
{
  struct export *e = handle;

  if (export_create (e) == -1)
    return for_client (-1);
  return for_client (pagecache_write (e->cache, buf, count, offset,
                                      flags & NBDKIT_FLAG_FUA));
}

static int
nbds3_zero (void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
  struct export *e = handle;

  if (!export_exists (e))
    return 0;                   /* it reads as zeros already */
  return for_client (pagecache_zero (e->cache, count, offset,
                                     flags & NBDKIT_FLAG_FAST_ZERO,
                                     flags & NBDKIT_FLAG_FUA));
}

static int
nbds3_trim (void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
  struct export *e = handle;

  if (!export_exists (e))
    return 0;
  return for_client (pagecache_trim (e->cache, count, offset,
                                     flags & NBDKIT_FLAG_FUA));
}

static int
nbds3_flush (void *handle, uint32_t flags)
{
  struct export *e = handle;

  return for_client (pagecache_flush (e->cache));
}

static int
nbds3_cache (void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
  struct export *e = handle;

  if (!export_exists (e))
    return 0;
  return for_client (pagecache_prefetch (e->cache, count, offset));
}

static int
add_extent (void *opaque, uint64_t offset, uint64_t length, bool data)
{
  return nbdkit_add_extent (opaque, offset, length,
                            data ? 0
                            : NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO);
}

static int
nbds3_extents (void *handle, uint32_t count, uint64_t offset, uint32_t flags,
               struct nbdkit_extents *extents)
{
  struct export *e = handle;

  if (!export_exists (e))
    return add_extent (extents, offset, count, false);
  return for_client (pagecache_extents (e->cache, count, offset, add_extent,
                                        extents));
}

static struct nbdkit_plugin plugin = {
  .name = "nbds3",
  .longname = "nbds3: block devices durable on S3",
  .version = PACKAGE_VERSION,
  .description = "Serves block devices whose pages live in a directory "
                 "or an S3 bucket, through a bounded write-back cache.",
  .unload = nbds3_unload,
  .config = nbds3_config,
  .config_complete = nbds3_config_complete,
  .config_help = CONFIG_HELP,
  .magic_config_key = "store",
  .get_ready = nbds3_get_ready,
  .after_fork = nbds3_after_fork,
  .cleanup = nbds3_cleanup,
  .list_exports = nbds3_list_exports,
  .default_export = nbds3_default_export,
  .open = nbds3_open,
  .close = nbds3_close,
  .get_size = nbds3_get_size,
  .block_size = nbds3_block_size,
  .can_write = nbds3_can_write,
  .can_multi_conn = nbds3_can_multi_conn,
  .can_flush = nbds3_can_flush,
  .can_fua = nbds3_can_fua,
  .can_trim = nbds3_can_trim,
  .can_zero = nbds3_can_zero,
  .can_fast_zero = nbds3_can_fast_zero,
  .can_extents = nbds3_can_extents,
  .can_cache = nbds3_can_cache,
  .pread = nbds3_pread,
  .pwrite = nbds3_pwrite,
  .zero = nbds3_zero,
  .trim = nbds3_trim,
  .flush = nbds3_flush,
  .cache = nbds3_cache,
  .extents = nbds3_extents,
  .errno_is_preserved = 1,
};

NBDKIT_REGISTER_PLUGIN (plugin)
