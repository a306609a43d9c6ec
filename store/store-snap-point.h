/* SPDX-License-Identifier: MIT
 *
 * The two coordination objects of a snapshot (store-snap-point.c): the
 * request nbds3.snapreq and the point record nbds3.snappoint, their text
 * format, and the copy of one recorded page into the snapshot.  Shared by
 * the holder side (store-snap.c) and the tool side (store-snap-take.c).
 */

#ifndef NBDS3_STORE_SNAP_POINT_H
#define NBDS3_STORE_SNAP_POINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define SNAP_ID_LEN 32                  /* hex digits of a request id */
#define SNAP_VERSION_MAX 80             /* an S3 ETag, quotes included */

struct snap_request {
  char id[SNAP_ID_LEN + 1];
  char name[STORE_EXPORT_NAME_MAX + 1]; /* the snapshot's */
};

/* What the export held at the point: a page (its version, "" on FS) or
 * a clone's tombstone.
 */
struct snap_entry {
  uint32_t page;
  bool tombstone;
  bool copied;                  /* the snapshot holds it (atomic) */
  char version[SNAP_VERSION_MAX];
};

struct snap_point {
  struct snap_request req;      /* the request it answers */
  int64_t point_ms;             /* how long mutations were held off */
  struct snap_entry *entries;   /* sorted by page, tombstones after */
  size_t nentries;
};

/* A fresh request for snapshot NAME into REQ (a random id). 0 or -1. */
extern int snap_request_new (const char *name, struct snap_request *req);

/* Write REQ as E's nbds3.snapreq with an exclusive create (EEXIST: one
 * is there, not reported).  0 or -1.
 */
extern int snap_request_put (struct store_export *e,
                             const struct snap_request *req);

/* Read E's nbds3.snapreq into REQ.  1, 0 if there is none, -1 on error
 * (a malformed one included).
 */
extern int snap_request_get (struct store_export *e, struct snap_request *req);

/* Record into PT (answering REQ) what E holds now: its pages with their
 * versions and, when TOMBSTONES, its tombstones.  The caller holds off
 * every mutation meanwhile.  0 or -1.
 */
extern int snap_point_record (struct store_export *e,
                              const struct snap_request *req,
                              bool tombstones, struct snap_point *pt);

/* Write PT as E's nbds3.snappoint (replacing a stale one).  0 or -1. */
extern int snap_point_put (struct store_export *e,
                           const struct snap_point *pt);

/* Read E's nbds3.snappoint, of an export of at most PAGES pages, into
 * PT.  1, 0 if there is none, -1 on error.
 */
extern int snap_point_get (struct store_export *e, uint64_t pages,
                           struct snap_point *pt);

extern void snap_point_free (struct snap_point *pt);

/* The first entry of PT for PAGE, or NULL. */
extern struct snap_entry *snap_point_find (struct snap_point *pt,
                                           uint32_t page);

/* Copy entry ENT of E (pages of PAGE_SIZE bytes) into the snapshot DST:
 * store_copy_object of its page or tombstone.  As store_copy_object: 1
 * copied, 2 DST held it already, 0 lost, -1.
 */
extern int snap_entry_copy (struct store_export *e, struct snap_entry *ent,
                            uint32_t page_size, struct store_export *dst);

#endif /* NBDS3_STORE_SNAP_POINT_H */
