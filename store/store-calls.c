/* SPDX-License-Identifier: MIT
 *
 * The call wrappers of store.h: every store request of the cache and the
 * plugin goes through here, as SQLite's os.c wraps sqlite3_io_methods.
 * This is the one place that traces them (-D nbds3.store=1): method,
 * export, page, result (with errno on failure) and how long the request
 * took.  The wrappers add no behaviour of their own beyond the trace and
 * keeping the name of each export they open, except the snapshot hooks:
 * every page mutation runs between store_snap_begin_mutation and
 * store_snap_end_mutation (copy-before-write), and claim, unclaim and
 * close tell store-snap.c whether this process holds the export.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-plugin.h>

#include "clock.h"
#include "crc32c.h"
#include "debug.h"
#include "store.h"
#include "store-snap.h"

#define NO_PAGE UINT32_MAX

/* Trace METHOD of export E (NULL: of the store) on PAGE (NO_PAGE: none),
 * which returned R after starting at T0 (clock_now_ns).  Keeps errno.
 */
static void
trace (const char *method, const struct store_export *e, uint32_t page,
       int r, int64_t t0)
{
  int saved_errno = errno;
  char export[STORE_EXPORT_NAME_MAX + 16] = "", at[24] = "", err[64] = "";

  if (e)
    snprintf (export, sizeof export, " export '%s'", e->name);
  if (page != NO_PAGE)
    snprintf (at, sizeof at, " page %" PRIu32, page);
  if (r == -1)
    snprintf (err, sizeof err, " (%s)", strerror (saved_errno));
  nbdkit_debug ("store: %s%s%s: %d%s, %.1f ms", method, export, at, r, err,
                (clock_now_ns () - t0) / 1e6);
  errno = saved_errno;
}

/* Start and end of a traced call. */
#define TRACE_START int64_t t0 = nbds3_debug_store ? clock_now_ns () : 0
#define TRACE(method, e, page, r) \
  do { if (nbds3_debug_store) trace ((method), (e), (page), (r), t0); } \
  while (0)

const char *
store_name (const struct store *s)
{
  return s->ops->name;
}

int
store_ready (struct store *s)
{
  TRACE_START;
  int r = s->ops->ready (s);

  TRACE ("ready", NULL, NO_PAGE, r);
  return r;
}

int
store_list_exports (struct store *s,
                    int (*fn) (void *opaque, const char *name), void *opaque)
{
  TRACE_START;
  int r = s->ops->list_exports (s, fn, opaque);

  TRACE ("list_exports", NULL, NO_PAGE, r);
  return r;
}

struct store_export *
store_open_export (struct store *s, const char *name)
{
  TRACE_START;
  char *copy = strdup (name);
  struct store_export *e;

  if (copy == NULL) {
    nbdkit_error ("store: out of memory");
    return NULL;
  }
  e = s->ops->open_export (s, name);
  if (e == NULL) {
    free (copy);
    if (nbds3_debug_store)
      nbdkit_debug ("store: open_export '%s': failed", name);
    return NULL;
  }
  e->name = copy;
  TRACE ("open_export", e, NO_PAGE, 0);
  return e;
}

/* The checksum of PAGE holding LEN bytes of BUF (see store.h). */
static uint32_t
page_checksum (uint32_t page, const void *buf, size_t len)
{
  const unsigned char index[4] = {
    page & 0xff, (page >> 8) & 0xff, (page >> 16) & 0xff, page >> 24,
  };

  return crc32c (crc32c (0, index, sizeof index), buf, len);
}

/* Check the page just read against the checksum SUM stored with it.  0,
 * or -1 with errno EIO after nbdkit_error.
 */
static int
verify_page (const struct store_export *e, uint32_t page, const void *buf,
             size_t len, const struct store_checksum *sum)
{
  uint32_t crc;

  if (!sum->present) {
    if (!e->checksums_required)
      return 0;                 /* a page from before checksums */
    nbdkit_error ("%s store: export '%s' page %" PRIu32 " has no checksum, "
                  "although every page of this export carries one: the "
                  "page was not written by nbds3 and is not served",
                  store_name (e->store), e->name, page);
    errno = EIO;
    return -1;
  }
  crc = page_checksum (page, buf, len);
  if (crc == sum->crc32c)
    return 0;
  nbdkit_error ("%s store: export '%s' page %" PRIu32 " is damaged: its "
                "checksum is %08" PRIx32 " but %08" PRIx32 " was stored with "
                "it; the page is not served (reads of it fail until it is "
                "rewritten whole or restored)", store_name (e->store),
                e->name, page, crc, sum->crc32c);
  errno = EIO;
  return -1;
}

int
store_read_meta (struct store_export *e, struct store_meta *meta)
{
  TRACE_START;
  int r = e->store->ops->read_meta (e, meta);

  if (r == 1)
    e->checksums_required = meta->checksums;
  TRACE ("read_meta", e, NO_PAGE, r);
  return r;
}

int
store_write_meta (struct store_export *e, const struct store_meta *meta)
{
  TRACE_START;
  int r = e->store->ops->write_meta (e, meta);

  if (r == 0)
    e->checksums_required = meta->checksums;
  TRACE ("write_meta", e, NO_PAGE, r);
  return r;
}

int
store_list_pages (struct store_export *e,
                  int (*fn) (void *opaque, uint32_t page), void *opaque)
{
  TRACE_START;
  int r = e->store->ops->list_pages (e, fn, opaque);

  TRACE ("list_pages", e, NO_PAGE, r);
  return r;
}

int
store_read_page (struct store_export *e, uint32_t page, void *buf,
                 size_t len)
{
  TRACE_START;
  struct store_checksum sum = { .present = false };
  int r = e->store->ops->read_page (e, page, buf, len, &sum);

  if (r == 1 && verify_page (e, page, buf, len, &sum) == -1)
    r = -1;
  TRACE ("read_page", e, page, r);
  return r;
}

int
store_write_page (struct store_export *e, uint32_t page, const void *buf,
                  size_t len)
{
  TRACE_START;
  const struct store_checksum sum = {
    .present = true, .crc32c = page_checksum (page, buf, len),
  };
  int r = store_snap_begin_mutation (e, page);

  if (r == 0) {
    r = e->store->ops->write_page (e, page, buf, len, &sum);
    store_snap_end_mutation (e);
  }
  TRACE ("write_page", e, page, r);
  return r;
}

int
store_delete_page (struct store_export *e, uint32_t page)
{
  TRACE_START;
  int r = store_snap_begin_mutation (e, page);

  if (r == 0) {
    r = e->store->ops->delete_page (e, page);
    store_snap_end_mutation (e);
  }
  TRACE ("delete_page", e, page, r);
  return r;
}

bool
store_has_sync (const struct store_export *e)
{
  return e->store->ops->sync != NULL;
}

int
store_sync (struct store_export *e)
{
  TRACE_START;
  int r;

  if (e->store->ops->sync == NULL)
    return 0;
  r = e->store->ops->sync (e);
  TRACE ("sync", e, NO_PAGE, r);
  return r;
}

void
store_close_export (struct store_export *e)
{
  char *name = e->name;

  if (nbds3_debug_store)
    nbdkit_debug ("store: close_export '%s'", name);
  store_snap_close (e);
  e->store->ops->close_export (e);
  free (name);
}

int
store_claim (struct store_export *e)
{
  TRACE_START;
  int r;

  if (e->store->ops->claim == NULL)
    return store_snap_claimed (e);
  r = e->store->ops->claim (e);
  TRACE ("claim", e, NO_PAGE, r);
  if (r >= 0 && store_snap_claimed (e) == -1)
    return -1;
  return r;
}

bool
store_unclaim (struct store_export *e)
{
  bool r = e->store->ops->unclaim && e->store->ops->unclaim (e);

  if (nbds3_debug_store)
    nbdkit_debug ("store: unclaim export '%s': %s", e->name,
                  r ? "released" : "kept");
  if (r)
    store_snap_unclaimed (e);
  return r;
}

void
store_cancel (struct store *s)
{
  if (nbds3_debug_store)
    nbdkit_debug ("store: cancel");
  if (s->ops->cancel)
    s->ops->cancel (s);
}

void
store_free (struct store *s)
{
  s->ops->free (s);
}

/* ---- Named objects ---- */

/* Is NAME valid and does E's store have named objects?  Reports why
 * not.
 */
static bool
objects_usable (const struct store_export *e, const char *name, void *method)
{
  if (method == NULL) {
    nbdkit_error ("the %s store keeps no named objects", store_name (e->store));
    errno = ENOTSUP;
    return false;
  }
  if (name && !store_object_name_valid (name)) {
    nbdkit_error ("export '%s': '%s' is not a valid object name",
                  e->name, name);
    errno = EINVAL;
    return false;
  }
  return true;
}

int
store_list_objects (struct store_export *e,
                    int (*fn) (void *opaque, const char *name, uint64_t size),
                    void *opaque)
{
  TRACE_START;
  int r;

  if (!objects_usable (e, NULL, e->store->ops->list_objects))
    return -1;
  r = e->store->ops->list_objects (e, fn, opaque);
  TRACE ("list_objects", e, NO_PAGE, r);
  return r;
}

int
store_put_object (struct store_export *e, const char *name, const void *buf,
                  size_t len, bool exclusive)
{
  TRACE_START;
  int r;

  if (!objects_usable (e, name, e->store->ops->put_object))
    return -1;
  r = e->store->ops->put_object (e, name, buf, len, exclusive);
  TRACE ("put_object", e, NO_PAGE, r);
  return r;
}

int
store_get_object (struct store_export *e, const char *name, void *buf,
                  size_t cap, size_t *len)
{
  TRACE_START;
  int r;

  if (!objects_usable (e, name, e->store->ops->get_object))
    return -1;
  r = e->store->ops->get_object (e, name, buf, cap, len);
  TRACE ("get_object", e, NO_PAGE, r);
  return r;
}

int
store_remove_object (struct store_export *e, const char *name)
{
  TRACE_START;
  int r;

  if (!objects_usable (e, name, e->store->ops->remove_object))
    return -1;
  r = e->store->ops->remove_object (e, name);
  TRACE ("remove_object", e, NO_PAGE, r);
  return r;
}

/* ---- Tombstones ---- */

/* Does E's store keep tombstones (METHOD set)?  Reports why not. */
static bool
tombstones_usable (const struct store_export *e, void *method)
{
  if (method)
    return true;
  nbdkit_error ("the %s store keeps no tombstones, so export '%s' cannot "
                "be a clone", store_name (e->store), e->name);
  errno = ENOTSUP;
  return false;
}

int
store_put_tombstone (struct store_export *e, uint32_t page)
{
  TRACE_START;
  int r;

  if (!tombstones_usable (e, e->store->ops->put_tombstone) ||
      store_snap_begin_mutation (e, page) == -1)
    return -1;
  r = e->store->ops->put_tombstone (e, page);
  store_snap_end_mutation (e);
  TRACE ("put_tombstone", e, page, r);
  return r;
}

int
store_remove_tombstone (struct store_export *e, uint32_t page)
{
  TRACE_START;
  int r;

  if (!tombstones_usable (e, e->store->ops->remove_tombstone) ||
      store_snap_begin_mutation (e, page) == -1)
    return -1;
  r = e->store->ops->remove_tombstone (e, page);
  store_snap_end_mutation (e);
  TRACE ("remove_tombstone", e, page, r);
  return r;
}

int
store_list_tombstones (struct store_export *e,
                       int (*fn) (void *opaque, uint32_t page), void *opaque)
{
  TRACE_START;
  int r;

  if (!tombstones_usable (e, e->store->ops->list_tombstones))
    return -1;
  r = e->store->ops->list_tombstones (e, fn, opaque);
  TRACE ("list_tombstones", e, NO_PAGE, r);
  return r;
}

/* ---- Snapshots ---- */

int
store_list_page_versions (struct store_export *e,
                          int (*fn) (void *opaque, uint32_t page,
                                     const char *version),
                          void *opaque)
{
  TRACE_START;
  int r;

  if (e->store->ops->list_page_versions == NULL)
    return store_snap_list_unversioned (e, fn, opaque);
  r = e->store->ops->list_page_versions (e, fn, opaque);
  TRACE ("list_page_versions", e, NO_PAGE, r);
  return r;
}

int
store_copy_object (struct store_export *e, const char *name,
                   const char *version, uint64_t size,
                   struct store_export *dst)
{
  TRACE_START;
  int r;

  if (e->store->ops->copy_object == NULL) {
    nbdkit_error ("the %s store cannot copy objects", store_name (e->store));
    errno = ENOTSUP;
    return -1;
  }
  r = e->store->ops->copy_object (e, name, version, size, dst);
  if (nbds3_debug_store)
    nbdkit_debug ("store: copy_object export '%s' %s to '%s': %d, %.1f ms",
                  e->name, name, dst->name, r, (clock_now_ns () - t0) / 1e6);
  return r;
}

/* ---- The tool's methods ---- */

int
store_guard_holder (struct store_export *e, char *buf, size_t len)
{
  TRACE_START;
  int r;

  buf[0] = '\0';
  if (e->store->ops->guard_holder == NULL)
    return 0;
  r = e->store->ops->guard_holder (e, buf, len);
  TRACE ("guard_holder", e, NO_PAGE, r);
  return r;
}

int
store_replace_meta (struct store_export *e, const struct store_meta *meta)
{
  TRACE_START;
  int r;

  if (!objects_usable (e, NULL, e->store->ops->replace_meta))
    return -1;
  r = e->store->ops->replace_meta (e, meta);
  if (r == 0)
    e->checksums_required = meta->checksums;
  TRACE ("replace_meta", e, NO_PAGE, r);
  return r;
}

int
store_remove_objects (struct store_export *e, const char *const *names,
                      size_t n)
{
  TRACE_START;
  int r;

  if (!objects_usable (e, NULL, e->store->ops->remove_objects))
    return -1;
  r = e->store->ops->remove_objects (e, names, n);
  if (nbds3_debug_store)
    nbdkit_debug ("store: remove_objects export '%s': %zu objects", e->name,
                  n);
  TRACE ("remove_objects", e, NO_PAGE, r);
  return r;
}

int
store_remove_export (struct store_export *e)
{
  TRACE_START;
  int r;

  if (!objects_usable (e, NULL, e->store->ops->remove_export))
    return -1;
  r = e->store->ops->remove_export (e);
  TRACE ("remove_export", e, NO_PAGE, r);
  return r;
}

int
store_check_guard (struct store_export *e)
{
  return e->store->ops->check_guard ? e->store->ops->check_guard (e) : 0;
}
