/* SPDX-License-Identifier: MIT
 *
 * Snapshots, the tool side (store_snap_take in store-snap.h): make NAME a
 * read-only snapshot of EXPORT, in stages around one state struct:
 *
 *   open       EXPORT must exist and NAME must not; NAME's guard is
 *              taken and held to the end (so two snapshots into one name
 *              never mix, nor remove each other's pages), then what an
 *              interrupted snapshot left under NAME (it has no metadata)
 *              is removed.
 *   point      When nobody holds EXPORT, the tool takes its guard and
 *              records the point of the quiescent export itself.  Else it
 *              writes nbds3.snapreq (an exclusive create) and waits, up to
 *              its timeout, for the holder's nbds3.snappoint with the
 *              request's id (store-snap.c records it and copies each
 *              recorded page before it changes it).
 *   copy       Every recorded page and tombstone, by a few threads, with
 *              store_copy_object conditional on the version at the point:
 *              a page that changed since was copied by the holder first,
 *              and the copy finds it in the snapshot.
 *   finish     The snapshot's directory made durable, then its metadata
 *              (format 3, read-only, snapshot-of=EXPORT, EXPORT's base and
 *              shape, checksums required) written last, so that an
 *              interrupted snapshot is never an export; then the request
 *              and the point record are removed, in that order (a point
 *              record without its request is stale, never resumed).
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nbdkit-plugin.h>

#include "clock.h"
#include "store-clone.h"
#include "store-s3-lease.h"
#include "store-snap.h"
#include "store-snap-point.h"

#define COPY_THREADS 8
/* How often the tool looks for the holder's point record. */
#define POINT_POLL_MS 100

struct take {
  struct store *s;
  const char *export, *name;
  struct store_export *e, *dst;
  struct store_meta meta;       /* EXPORT's */
  struct snap_request req;
  struct snap_point pt;
  bool guarded;                 /* the tool holds EXPORT's guard */
  bool requested;               /* nbds3.snapreq is ours */
  bool dst_ours;                /* NAME is no export: what is under it is
                                 * this snapshot's (or a leftover) */
  struct store_snap_report *rep;
  /* The copy: the next entry to take, and the first failure (atomic). */
  size_t next;
  int failed;
  uint64_t by_tool, by_holder;
  size_t listed;                /* check_complete's count */
  bool break_guard;             /* take EXPORT's guard, never ask */
};

/* ---- open ---- */

static int
remove_leftover (void *opaque, const char *name, uint64_t size)
{
  struct take *t = opaque;

  (void) size;
  /* NAME's guard is ours (claim_dst), and stays till the end; an
   * export's metadata is never removed here.
   */
  if (strcmp (name, S3_LEASE_NAME) == 0 ||
      strcmp (name, STORE_HOLDER_NAME) == 0 ||
      strcmp (name, STORE_META_NAME) == 0)
    return 0;
  nbdkit_debug ("snapshot '%s': removing %s, left by an interrupted "
                "snapshot", t->name, name);
  return store_remove_object (t->dst, name);
}

/* Open NAME and take its guard, which only one snapshot into NAME holds
 * at once.  On the FS store a guard needs the export's directory, which
 * an empty request object creates (removed below as a leftover).  0, or
 * -1 after nbdkit_error.
 */
static int
claim_dst (struct take *t)
{
  if ((t->dst = store_open_export (t->s, t->name)) == NULL ||
      (store_put_object (t->dst, STORE_SNAP_REQUEST, "", 0, true) == -1 &&
       errno != EEXIST))
    return -1;
  store_close_export (t->dst);
  if ((t->dst = store_open_export (t->s, t->name)) == NULL)
    return -1;
  if (store_claim (t->dst) == -1) {
    nbdkit_error ("another nbds3 snapshot into '%s' is being taken, or an "
                  "interrupted one left its guard (see above): wait for it, "
                  "or choose another name", t->name);
    errno = EEXIST;
    return -1;
  }
  return 0;
}

static int
open_exports (struct take *t)
{
  struct store_meta dst_meta;
  int r;

  if (!store_export_name_valid (t->name) || strcmp (t->name, t->export) == 0) {
    nbdkit_error ("'%s' is not a valid name for a snapshot of '%s'",
                  t->name, t->export);
    errno = EINVAL;
    return -1;
  }
  if ((t->e = store_open_export (t->s, t->export)) == NULL ||
      (r = store_read_meta (t->e, &t->meta)) == -1)
    return -1;
  if (r == 0) {
    nbdkit_error ("export '%s' does not exist", t->export);
    errno = ENOENT;
    return -1;
  }
  /* An export of that name: refused before anything is written into it
   * (claim_dst's request object would read as a request to its holder).
   */
  if ((t->dst = store_open_export (t->s, t->name)) == NULL ||
      (r = store_read_meta (t->dst, &dst_meta)) == -1)
    return -1;
  store_close_export (t->dst);
  t->dst = NULL;
  if (r == 0 &&
      (claim_dst (t) == -1 || (r = store_read_meta (t->dst, &dst_meta)) == -1))
    return -1;
  if (r == 1) {
    nbdkit_error ("export '%s' exists already: choose another name for "
                  "the snapshot", t->name);
    errno = EEXIST;
    return -1;
  }
  t->dst_ours = true;
  return store_list_objects (t->dst, remove_leftover, t);
}

/* ---- point ---- */

/* The point record answering T's request, once the holder wrote it.  1,
 * 0 if not yet, -1 on error.
 */
static int
holder_point (struct take *t)
{
  int r = snap_point_get (t->e, t->meta.size / t->meta.page_size + 1,
                          &t->pt);

  if (r == 1 && strcmp (t->pt.req.id, t->req.id) != 0) {
    snap_point_free (&t->pt);
    r = 0;                      /* stale, or another tool's */
  }
  return r;
}

/* Did the holder let go of the export (its last client left, or it
 * stopped) while the tool waited for its answer?  Then the tool takes
 * the guard itself: true once it holds it.
 */
static bool
guard_let_go (struct take *t)
{
  char holder[256];

  if (store_guard_holder (t->e, holder, sizeof holder) != 0 ||
      store_claim (t->e) == -1)
    return false;
  t->guarded = true;
  nbdkit_debug ("export '%s' was let go while the tool waited: taking the "
                "point itself", t->export);
  return true;
}

/* Ask the holder of T's export for the point: 1 when it answered (T's
 * point record filled in), 2 when it let go of the export meanwhile and
 * the tool now holds the guard, -1 after nbdkit_error.
 */
static int
request_point (struct take *t, unsigned timeout_ms)
{
  int64_t start = clock_now_ns (), deadline = start + timeout_ms * NS_PER_MS;
  int r;

  if (snap_request_put (t->e, &t->req) == -1) {
    if (errno == EEXIST)
      nbdkit_error ("a snapshot of export '%s' is being taken already "
                    "(its " STORE_SNAP_REQUEST " exists); if no nbds3 "
                    "snapshot is running, an interrupted one left it: "
                    "remove it and try again", t->export);
    return -1;
  }
  t->requested = true;
  for (unsigned polls = 1;; ++polls) {
    struct timespec ts = { 0, POINT_POLL_MS * NS_PER_MS };

    if ((r = holder_point (t)) != 0 || clock_now_ns () >= deadline)
      break;
    nanosleep (&ts, NULL);
    /* Whether the holder let go: once a second (S3: a GET of the lease). */
    if (polls % (1000 / POINT_POLL_MS) == 0 && guard_let_go (t)) {
      /* It answered just before it let go (or died): its point stands,
       * and a server started now must be able to take the export and
       * resume copy-before-write from the point record.
       */
      r = holder_point (t);
      if (r == 1 && store_unclaim (t->e))
        t->guarded = false;
      if (r == 0)
        r = 2;
      break;
    }
  }
  if (r == 0) {
    nbdkit_error ("export '%s' is held by a server that did not answer "
                  "the snapshot request within %u ms: is it an nbds3 that "
                  "takes snapshots, and is it running?", t->export,
                  timeout_ms);
    errno = ETIMEDOUT;
    return -1;
  }
  t->rep->wait_ms = (clock_now_ns () - start) / NS_PER_MS;
  return r;
}

static int
take_point (struct take *t, unsigned timeout_ms)
{
  char holder[256];
  int64_t t0;
  int held;

  if (snap_request_new (t->name, &t->req) == -1)
    return -1;
  /* With break_guard, the guard is taken from whoever holds it (S3:
   * break-lease=true; a holder that died leaves a lease that looks
   * held).  Else ask who holds it before trying to take it: a refused
   * claim reports the holder as an error, and a held export is no error
   * here.
   */
  if (t->break_guard) {
    if (store_claim (t->e) == -1)
      return -1;
  }
  else if ((held = store_guard_holder (t->e, holder, sizeof holder)) == -1)
    return -1;
  else if (held == 1 || store_claim (t->e) == -1) {
    if (held == 0 && errno != EBUSY)
      return -1;
    nbdkit_debug ("export '%s' is held (%s): asking its holder for the "
                  "point", t->export, held == 1 ? holder : "claim refused");
    t->rep->holder = true;
    switch (request_point (t, timeout_ms)) {
    case -1:
      return -1;
    case 1:
      t->rep->point_ms = t->pt.point_ms;
      return 0;
    }
    t->rep->holder = false;     /* 2: it let go; the guard is the tool's */
  }
  t->guarded = true;
  t0 = clock_now_ns ();
  if (snap_point_record (t->e, &t->req, t->meta.base[0] != '\0',
                         &t->pt) == -1)
    return -1;
  t->rep->point_ms = (clock_now_ns () - t0) / NS_PER_MS;
  return 0;
}

/* When the tool had the point, and (for tests) a wait before the copy:
 * see store-snap.h.
 */
static void
point_known (struct take *t)
{
  const char *go = getenv ("NBDS3_SNAP_TEST_COPY_AFTER");
  struct timespec now, tick = { 0, 50 * NS_PER_MS };

  clock_gettime (CLOCK_REALTIME, &now);
  t->rep->point_known_at = now.tv_sec * INT64_C (1000) +
    now.tv_nsec / NS_PER_MS;
  if (go == NULL)
    return;
  nbdkit_debug ("snapshot '%s': waiting for %s before the copy (test)",
                t->name, go);
  for (int i = 0; i < 20 * 120 && access (go, F_OK) != 0; ++i)
    nanosleep (&tick, NULL);
}

/* ---- copy ---- */

static void *
copy_worker (void *arg)
{
  struct take *t = arg;
  size_t i;

  while (!__atomic_load_n (&t->failed, __ATOMIC_RELAXED) &&
         (i = __atomic_fetch_add (&t->next, 1, __ATOMIC_RELAXED)) <
         t->pt.nentries) {
    struct snap_entry *ent = &t->pt.entries[i];
    int r = snap_entry_copy (t->e, ent, t->meta.page_size, t->dst);

    if (r == 0) {
      nbdkit_error ("snapshot '%s' of export '%s': page %" PRIu32 " changed "
                    "after the snapshot's point, but its holder did not "
                    "copy it into the snapshot first", t->name, t->export,
                    ent->page);
      errno = EIO;
    }
    if (r <= 0) {
      __atomic_store_n (&t->failed, errno ? errno : EIO, __ATOMIC_RELAXED);
      break;
    }
    __atomic_add_fetch (r == 1 ? &t->by_tool : &t->by_holder, 1,
                        __ATOMIC_RELAXED);
  }
  return NULL;
}

static int
copy_all (struct take *t)
{
  pthread_t threads[COPY_THREADS];
  unsigned started = 0;

  for (unsigned i = 0; i < COPY_THREADS && i < t->pt.nentries; ++i) {
    if (pthread_create (&threads[i], NULL, copy_worker, t) != 0)
      break;
    started++;
  }
  if (started == 0)
    copy_worker (t);
  for (unsigned i = 0; i < started; ++i)
    pthread_join (threads[i], NULL);
  if (t->failed) {
    errno = t->failed;
    return -1;
  }
  for (size_t i = 0; i < t->pt.nentries; ++i)
    t->rep->tombstones += t->pt.entries[i].tombstone;
  t->rep->pages = t->pt.nentries - t->rep->tombstones;
  t->rep->copied_by_tool = t->by_tool;
  t->rep->copied_by_holder = t->by_holder;
  return 0;
}

/* ---- finish ---- */

/* Count in T->listed the objects of the snapshot that its point lists. */
static int
count_listed (void *opaque, const char *name, uint64_t size)
{
  struct take *t = opaque;
  struct snap_entry *ent;
  bool tombstone = false;
  uint32_t page;

  (void) size;
  if (!store_page_name_parse (name, &page) &&
      !(tombstone = store_tombstone_name_parse (name, &page)))
    return 0;
  for (ent = snap_point_find (&t->pt, page);
       ent && ent < t->pt.entries + t->pt.nentries && ent->page == page;
       ++ent)
    if (ent->tombstone == tombstone) {
      t->listed++;
      break;
    }
  return 0;
}

/* Does the snapshot hold every page and tombstone of its point?  (A
 * second nbds3 snapshot into the same name, started meanwhile, removes
 * what it takes for leftovers.)  0, or -1 after nbdkit_error.
 */
static int
check_complete (struct take *t)
{
  t->listed = 0;
  if (store_list_objects (t->dst, count_listed, t) == -1)
    return -1;
  if (t->listed == t->pt.nentries)
    return 0;
  nbdkit_error ("snapshot '%s' lacks %zu of the %zu pages and tombstones of "
                "its point (another nbds3 snapshot into that name removed "
                "them?): it is not made", t->name,
                t->pt.nentries - t->listed, t->pt.nentries);
  errno = EIO;
  return -1;
}

static int
finish (struct take *t)
{
  struct store_meta meta = t->meta;

  meta.version = STORE_META_VERSION;
  meta.read_only = true;
  meta.checksums = true;
  snprintf (meta.snapshot_of, sizeof meta.snapshot_of, "%s", t->export);
  /* Its guard is ours since open. */
  if (store_sync (t->dst) == -1 || check_complete (t) == -1)
    return -1;
  /* A snapshot of a clone reads from the clone's base too: the base must
   * know it, so that it is not deleted under the snapshot.
   */
  if (meta.base[0] && store_clone_ref_add (t->s, meta.base, t->name) == -1)
    return -1;
  if (store_write_meta (t->dst, &meta) == 0)
    return 0;
  if (meta.base[0]) {
    int err = errno;

    store_clone_ref_remove (t->s, meta.base, t->name);
    errno = err;
  }
  return -1;
}

/* Remove the request and then the point record (see the top). */
static int
withdraw (struct take *t)
{
  struct snap_point pt;
  int r;

  if (!t->requested)
    return 0;
  t->requested = false;
  /* The point first, and only this run's: once the request is gone,
   * another run may request, and its holder answer, at once.
   */
  r = snap_point_get (t->e, t->meta.size / t->meta.page_size + 1, &pt);
  if (r == 1) {
    bool ours = strcmp (pt.req.id, t->req.id) == 0;

    snap_point_free (&pt);
    r = ours ? store_remove_object (t->e, STORE_SNAP_POINT) : 0;
  }
  if (r != -1)
    r = store_remove_object (t->e, STORE_SNAP_REQUEST);
  if (r == -1)
    nbdkit_error ("export '%s': the snapshot request could not be "
                  "withdrawn: until " STORE_SNAP_REQUEST " and "
                  STORE_SNAP_POINT " are removed (by hand), its server "
                  "keeps copying pages before it changes them", t->export);
  return r == -1 ? -1 : 0;
}

int
store_snap_take (struct store *s, const char *export, const char *name,
                 unsigned timeout_ms, bool break_guard,
                 struct store_snap_report *rep)
{
  struct take t = { .s = s, .export = export, .name = name, .rep = rep,
                    .break_guard = break_guard };
  struct store_meta dst_meta;
  int64_t t0 = clock_now_ns ();
  int r = -1, err;

  memset (rep, 0, sizeof *rep);
  if (open_exports (&t) == 0 && take_point (&t, timeout_ms) == 0) {
    point_known (&t);
    if (copy_all (&t) == 0 && finish (&t) == 0)
      r = 0;
  }
  err = errno;
  if (withdraw (&t) == -1)
    rep->not_withdrawn = true;
  /* What this run copied, unless NAME became an export meanwhile
   * (another run into that name finished first: its pages stay).
   */
  if (r == -1 && t.dst_ours && store_read_meta (t.dst, &dst_meta) == 0)
    store_list_objects (t.dst, remove_leftover, &t);
  snap_point_free (&t.pt);
  if (t.dst)
    store_close_export (t.dst);
  if (t.e)
    store_close_export (t.e);
  rep->total_ms = (clock_now_ns () - t0) / NS_PER_MS;
  errno = err;
  return r;
}
