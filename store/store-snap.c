/* SPDX-License-Identifier: MIT
 *
 * Snapshots, the holder side: a serving process answers the snapshot
 * requests of the exports it holds, and copies each page a snapshot's
 * point recorded into the snapshot before its first overwrite or delete
 * after the point (copy-before-write).  The tool side is
 * store-snap-take.c, the objects they share store-snap-point.c.
 *
 * What a snapshot is: the export's durable state at one instant P, a
 * state the disk could be in after a power loss.  P is the moment the
 * holder, with every page mutation held off (MUTATIONS taken exclusively:
 * the mutations in flight have finished and none starts), lists what the
 * export stores, writes that list as nbds3.snappoint and arms
 * copy-before-write.  After P no write reaches the snapshot: the first
 * mutation of a page recorded at P copies it first (FS: a hard link of
 * the page file, which a later rename over it leaves alone; S3: a
 * CopyObject conditional on the page's ETag at P), and the tool copies
 * the pages nobody touched.
 *
 * Invariants:
 * - A mutation runs between store_snap_begin_mutation and
 *   store_snap_end_mutation, which hold MUTATIONS shared; the point and
 *   the disarm take it exclusively, so POINT and DST change only while no
 *   mutation runs, and a mutation sees them unchanged from begin to end.
 * - An entry's copied flag is set only once the snapshot holds the page
 *   (the copy returned 1 or 2); the cache runs at most one mutation per
 *   page at once, so no two threads copy one page.
 * - POINT is armed only while the export's nbds3.snapreq names its id:
 *   a poll that finds the request gone or changed disarms it.
 * - At claim, before any mutation, a point record that answers the
 *   current request is loaded (an earlier holder recorded it and then
 *   died or released the export), so copy-before-write resumes: its
 *   copies are idempotent (a page copied before is found in the
 *   snapshot).
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-plugin.h>

#include "cleanup.h"
#include "clock.h"
#include "store-snap.h"
#include "store-snap-point.h"

struct store_snap {
  struct store_export *e;
  uint32_t page_size;           /* of E, from its metadata */
  uint64_t pages;               /* E's size in pages */
  bool clone;                   /* E has a base: record its tombstones */
  /* Held shared by every mutation, exclusively by the point and the
   * disarm (writer-preferring, so that a point is not starved).
   */
  pthread_rwlock_t mutations;
  struct snap_point *point;     /* armed: copy-before-write into DST */
  struct store_export *dst;     /* the snapshot being taken */
  bool dst_done;                /* DST has its metadata (atomic) */

  pthread_mutex_t poll_lock;    /* serialises polls and resumes */
  pthread_mutex_t lock;         /* guards the fields below */
  pthread_cond_t wake;
  pthread_t watcher;
  bool watching, stop, claimed;
};

static unsigned serve_poll_ms;  /* 0: this process answers nothing */

void
store_snap_serve (unsigned poll_ms)
{
  serve_poll_ms = poll_ms ? poll_ms : 1;
}

struct unversioned {
  int (*fn) (void *opaque, uint32_t page, const char *version);
  void *opaque;
};

static int
unversioned_page (void *opaque, uint32_t page)
{
  struct unversioned *u = opaque;

  return u->fn (u->opaque, page, "");
}

int
store_snap_list_unversioned (struct store_export *e,
                             int (*fn) (void *opaque, uint32_t page,
                                        const char *version),
                             void *opaque)
{
  struct unversioned u = { fn, opaque };

  return store_list_pages (e, unversioned_page, &u);
}

/* ---- Arming ---- */

/* Arm copy-before-write of PT (taken over) into its snapshot, opened as
 * DST (taken over).  MUTATIONS held exclusively.
 */
static void
arm (struct store_snap *sn, struct snap_point *pt, struct store_export *dst)
{
  sn->point = pt;
  sn->dst = dst;
  sn->dst_done = false;
  nbdkit_debug ("snapshot '%s' of export '%s': copy-before-write of %zu "
                "pages armed", pt->req.name, sn->e->name, pt->nentries);
}

/* Disarm (MUTATIONS held exclusively). */
static void
disarm_locked (struct store_snap *sn)
{
  if (sn->point == NULL)
    return;
  nbdkit_debug ("snapshot '%s' of export '%s': copy-before-write disarmed",
                sn->point->req.name, sn->e->name);
  snap_point_free (sn->point);
  free (sn->point);
  sn->point = NULL;
  store_close_export (sn->dst);
  sn->dst = NULL;
}

static void
disarm (struct store_snap *sn)
{
  pthread_rwlock_wrlock (&sn->mutations);
  disarm_locked (sn);
  pthread_rwlock_unlock (&sn->mutations);
}

/* ---- Answering a request ---- */

/* The snapshot REQ names, opened, if it may be one: not E itself nor
 * an export (a request the tool did not write).  NULL after
 * nbdkit_error.
 */
static struct store_export *
open_dst (struct store_snap *sn, const struct snap_request *req)
{
  struct store_export *dst = NULL;
  struct store_meta meta;
  int r = -1;

  if (strcmp (req->name, sn->e->name) != 0 &&
      (dst = store_open_export (sn->e->store, req->name)) != NULL &&
      (r = store_read_meta (dst, &meta)) == 0)
    return dst;
  if (r == 1 || (dst == NULL && strcmp (req->name, sn->e->name) == 0))
    nbdkit_error ("export '%s': " STORE_SNAP_REQUEST " asks for a snapshot "
                  "into '%s', which is an export: not answered", sn->e->name,
                  req->name);
  if (dst)
    store_close_export (dst);
  return NULL;
}

/* Record the point for REQ, write it and arm.  0 or -1. */
static int
answer (struct store_snap *sn, const struct snap_request *req)
{
  struct snap_point *pt = calloc (1, sizeof *pt);
  struct store_export *dst = open_dst (sn, req);
  int64_t t0 = clock_now_ns ();
  int r = -1;

  if (pt == NULL || dst == NULL) {
    if (pt == NULL)
      nbdkit_error ("out of memory answering a snapshot request");
    free (pt);
    if (dst)
      store_close_export (dst);
    return -1;
  }
  pthread_rwlock_wrlock (&sn->mutations);
  disarm_locked (sn);
  /* Only while the guard is still this process's (an S3 lease can be
   * lost): no other holder's mutations may fall inside the point.
   */
  if (store_check_guard (sn->e) == 0 &&
      snap_point_record (sn->e, req, sn->clone, pt) == 0 &&
      store_check_guard (sn->e) == 0) {
    pt->point_ms = (clock_now_ns () - t0) / NS_PER_MS;
    r = snap_point_put (sn->e, pt);
  }
  if (r == 0)
    arm (sn, pt, dst);
  pthread_rwlock_unlock (&sn->mutations);
  if (r == 0) {
    nbdkit_debug ("snapshot '%s' of export '%s': point recorded (%zu "
                  "entries) in %" PRId64 " ms", req->name, sn->e->name,
                  pt->nentries, (clock_now_ns () - t0) / NS_PER_MS);
    return 0;
  }
  snap_point_free (pt);
  free (pt);
  store_close_export (dst);
  return -1;
}

/* Arm the point record that an earlier holder wrote for REQ, if there
 * is one; remove a stale one.  1 if armed, 0 if there was none, -1 on
 * error.
 */
static int
resume (struct store_snap *sn, const struct snap_request *req)
{
  struct snap_point *pt = calloc (1, sizeof *pt);
  struct store_export *dst = NULL;
  int r;

  if (pt == NULL) {
    nbdkit_error ("out of memory resuming a snapshot");
    return -1;
  }
  /* No request: any point record is stale, and need not be read (its
   * buffer is sized for the export's every page).
   */
  if (req == NULL) {
    free (pt);
    return store_remove_object (sn->e, STORE_SNAP_POINT) == -1 ? -1 : 0;
  }
  r = snap_point_get (sn->e, sn->pages, pt);
  if (r == 1 && strcmp (pt->req.id, req->id) != 0) {
    nbdkit_debug ("export '%s': removing a stale " STORE_SNAP_POINT
                  " (snapshot '%s')", sn->e->name, pt->req.name);
    r = store_remove_object (sn->e, STORE_SNAP_POINT) == -1 ? -1 : 0;
  }
  if (r == 1 && (dst = store_open_export (sn->e->store, req->name)) == NULL)
    r = -1;
  if (r == 1) {
    pthread_rwlock_wrlock (&sn->mutations);
    disarm_locked (sn);
    arm (sn, pt, dst);
    pthread_rwlock_unlock (&sn->mutations);
    nbdkit_debug ("snapshot '%s' of export '%s': resumed from its "
                  STORE_SNAP_POINT, req->name, sn->e->name);
    return 1;
  }
  snap_point_free (pt);
  free (pt);
  return r;
}

/* Read E's shape (page size, pages, base) if it is not known yet: an
 * export claimed before its metadata was written.
 */
static void
read_shape (struct store_snap *sn)
{
  struct store_meta meta;

  if (sn->page_size == 0 && store_read_meta (sn->e, &meta) == 1) {
    sn->page_size = meta.page_size;
    sn->pages = meta.size / meta.page_size + 1;
    sn->clone = meta.base[0] != '\0';
  }
}

/* Look at E's request once and act on it (poll_lock held): disarm when
 * it is gone or another, resume an earlier holder's point that answers
 * it, or answer it.  With AT_CLAIM (before any mutation) a stale point
 * record is removed too.  0, or -1 when it cannot tell whether a point
 * is to be resumed (the request or the record unreadable).
 */
static int
poll_request (struct store_snap *sn, bool at_claim)
{
  struct snap_request req;
  int r = snap_request_get (sn->e, &req), armed;

  if (r == -1)
    return -1;
  read_shape (sn);
  if (r == 1 && sn->point && strcmp (sn->point->req.id, req.id) == 0)
    return 0;                   /* armed for it */
  if (sn->point)
    disarm (sn);
  if (r == 0)
    return at_claim && resume (sn, NULL) == -1 ? -1 : 0;
  armed = resume (sn, &req);
  if (armed != 0)
    return armed == -1 ? -1 : 0;
  /* Unanswered, the request times out: no point, nothing to keep. */
  if (answer (sn, &req) == -1)
    nbdkit_debug ("export '%s': snapshot request for '%s' not answered "
                  "(see above); trying again later", sn->e->name, req.name);
  return 0;
}

/* ---- The watcher thread ---- */

static void *
watch (void *arg)
{
  struct store_snap *sn = arg;

  pthread_mutex_lock (&sn->lock);
  while (!sn->stop) {
    int64_t deadline = clock_now_ns () + serve_poll_ms * NS_PER_MS;

    while (!sn->stop && clock_cond_wait (&sn->wake, &sn->lock,
                                         deadline) != ETIMEDOUT)
      ;
    if (sn->stop || !sn->claimed)
      continue;
    pthread_mutex_unlock (&sn->lock);
    pthread_mutex_lock (&sn->poll_lock);
    if (poll_request (sn, false) == -1)
      nbdkit_debug ("export '%s': looking for snapshot requests failed "
                    "(see above); trying again later", sn->e->name);
    pthread_mutex_unlock (&sn->poll_lock);
    pthread_mutex_lock (&sn->lock);
  }
  pthread_mutex_unlock (&sn->lock);
  return NULL;
}

/* The snapshot state of E, made at its first claim.  NULL after
 * nbdkit_error.
 */
static struct store_snap *
snap_new (struct store_export *e)
{
  struct store_snap *sn = calloc (1, sizeof *sn);
  pthread_rwlockattr_t attr;

  if (sn == NULL) {
    nbdkit_error ("out of memory");
    return NULL;
  }
  sn->e = e;
  pthread_rwlockattr_init (&attr);
  pthread_rwlockattr_setkind_np (&attr,
                                 PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init (&sn->mutations, &attr);
  pthread_rwlockattr_destroy (&attr);
  pthread_mutex_init (&sn->poll_lock, NULL);
  pthread_mutex_init (&sn->lock, NULL);
  clock_cond_init (&sn->wake);
  return sn;
}

static int
start_watcher (struct store_snap *sn)
{
  int err = pthread_create (&sn->watcher, NULL, watch, sn);

  if (err) {
    errno = err;
    nbdkit_error ("export '%s': cannot start the snapshot watcher: %m",
                  sn->e->name);
    return -1;
  }
  sn->watching = true;
  return 0;
}

int
store_snap_claimed (struct store_export *e)
{
  struct store_snap *sn = e->snap;
  bool held;
  int r;

  if (serve_poll_ms == 0)
    return 0;
  if (sn == NULL && (sn = e->snap = snap_new (e)) == NULL)
    return -1;
  pthread_mutex_lock (&sn->lock);
  held = sn->claimed;
  pthread_mutex_unlock (&sn->lock);
  if (held)
    return 0;                   /* held already: the watcher looks */
  pthread_mutex_lock (&sn->poll_lock);
  r = poll_request (sn, true);
  pthread_mutex_unlock (&sn->poll_lock);
  if (r == -1) {
    nbdkit_error ("export '%s': cannot tell whether a snapshot of it is "
                  "being taken (see above), so it is not written", e->name);
    return -1;
  }
  pthread_mutex_lock (&sn->lock);
  sn->claimed = true;
  if (!sn->watching)
    r = start_watcher (sn);
  pthread_mutex_unlock (&sn->lock);
  return r;
}

void
store_snap_unclaimed (struct store_export *e)
{
  struct store_snap *sn = e->snap;

  if (sn == NULL)
    return;
  pthread_mutex_lock (&sn->lock);
  sn->claimed = false;
  pthread_mutex_unlock (&sn->lock);
}

void
store_snap_close (struct store_export *e)
{
  struct store_snap *sn = e->snap;

  if (sn == NULL)
    return;
  pthread_mutex_lock (&sn->lock);
  sn->stop = true;
  pthread_cond_broadcast (&sn->wake);
  pthread_mutex_unlock (&sn->lock);
  if (sn->watching)
    pthread_join (sn->watcher, NULL);
  disarm (sn);
  pthread_rwlock_destroy (&sn->mutations);
  pthread_mutex_destroy (&sn->poll_lock);
  pthread_mutex_destroy (&sn->lock);
  pthread_cond_destroy (&sn->wake);
  free (sn);
  e->snap = NULL;
}

/* ---- Copy-before-write ---- */

/* Copy what the armed point recorded of PAGE into the snapshot, unless
 * it is there already (MUTATIONS held shared).  0 or -1.
 */
/* Is the snapshot DST complete (its metadata written: the tool copied
 * every page of the point), so that copy-before-write has nothing left
 * to do until the poll disarms it?  Then a copy could only land in a
 * snapshot that was deleted since, or in an export made under its name.
 */
static bool
dst_complete (struct store_snap *sn)
{
  struct store_meta meta;

  if (__atomic_load_n (&sn->dst_done, __ATOMIC_ACQUIRE))
    return true;
  if (store_read_meta (sn->dst, &meta) != 1)
    return false;
  __atomic_store_n (&sn->dst_done, true, __ATOMIC_RELEASE);
  return true;
}

static int
copy_before_write (struct store_snap *sn, uint32_t page)
{
  struct snap_point *pt = sn->point;

  for (struct snap_entry *ent = snap_point_find (pt, page);
       ent && ent < pt->entries + pt->nentries && ent->page == page; ++ent) {
    int r;

    if (__atomic_load_n (&ent->copied, __ATOMIC_ACQUIRE))
      continue;
    if (dst_complete (sn)) {
      __atomic_store_n (&ent->copied, true, __ATOMIC_RELEASE);
      continue;
    }
    r = snap_entry_copy (sn->e, ent, sn->page_size, sn->dst);
    if (r == -1) {
      nbdkit_error ("export '%s', page %" PRIu32 ": cannot copy it into "
                    "snapshot '%s' before changing it (see above): the "
                    "change waits", sn->e->name, page, pt->req.name);
      return -1;
    }
    if (r == 0)
      nbdkit_error ("export '%s', page %" PRIu32 ": neither the export "
                    "nor snapshot '%s' holds it as it was at the "
                    "snapshot's point: the snapshot will fail",
                    sn->e->name, page, pt->req.name);
    __atomic_store_n (&ent->copied, true, __ATOMIC_RELEASE);
  }
  return 0;
}

int
store_snap_begin_mutation (struct store_export *e, uint32_t page)
{
  struct store_snap *sn = e->snap;

  if (sn == NULL)
    return 0;
  pthread_rwlock_rdlock (&sn->mutations);
  if (sn->point && copy_before_write (sn, page) == -1) {
    pthread_rwlock_unlock (&sn->mutations);
    return -1;
  }
  return 0;
}

void
store_snap_end_mutation (struct store_export *e)
{
  if (e->snap)
    pthread_rwlock_unlock (&e->snap->mutations);
}
