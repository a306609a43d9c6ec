/* SPDX-License-Identifier: MIT
 *
 * Snapshots (store-snap.c): a read-only point-in-time copy of an export,
 * taken by the tool (store_snap_take) while a server may be writing the
 * export, which that server answers (the holder side).  Both sides talk
 * only through named objects of the export, so the tool may run on
 * another host:
 *
 *   nbds3.snapreq    the request, written by the tool with an exclusive
 *                    create: the snapshot's name and a request id;
 *   nbds3.snappoint  the point record, written by the holder (or by the
 *                    tool itself when nobody holds the export): the pages
 *                    stored at the instant P, with their versions, and the
 *                    clone's tombstones then.
 */

#ifndef NBDS3_STORE_SNAP_H
#define NBDS3_STORE_SNAP_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

#define STORE_SNAP_REQUEST "nbds3.snapreq"
#define STORE_SNAP_POINT "nbds3.snappoint"
/* How often a server of the FS store looks for a request, and how long
 * the tool waits for its answer there (on S3: lease-timeout/6 and
 * 2 * lease-timeout).
 */
#define STORE_SNAP_FS_POLL_MS 1000
#define STORE_SNAP_FS_TIMEOUT_MS 10000

/* ---- The holder side (the plugin) ---- */

/* This process serves exports: answer the snapshot requests of every
 * export it claims, looking for one every POLL_MS (the S3 lease's renewal
 * interval; about a second on FS).  Call once, before the first claim.
 * Without it (the tool) claims answer nothing.
 */
extern void store_snap_serve (unsigned poll_ms);

/* The call wrappers' hooks (store-calls.c).  claimed: E's guard was
 * taken (the first claim, or the first after unclaimed, starts watching
 * it for requests and resumes copy-before-write of a snapshot whose point
 * an earlier holder recorded; later ones do nothing, no I/O); unclaimed:
 * it was released; close: E closes (stops watching, frees the state).
 * claimed is 0, or -1 after nbdkit_error when it cannot tell whether a
 * snapshot is being taken: the claim fails then.
 */
extern int store_snap_claimed (struct store_export *e);
extern void store_snap_unclaimed (struct store_export *e);
extern void store_snap_close (struct store_export *e);

/* Around every mutation of page PAGE of E (write, delete; a clone's
 * tombstone write or removal too): begin copies the page into a
 * snapshot whose point recorded it and that does not have it yet
 * (copy-before-write), and holds off a point being recorded until end.
 * begin is 0, or -1 after nbdkit_error when the copy failed: then the
 * mutation must not happen (and end must not be called).
 */
extern int store_snap_begin_mutation (struct store_export *e, uint32_t page);
extern void store_snap_end_mutation (struct store_export *e);

/* list_page_versions for a store without it: list_pages, version "". */
extern int store_snap_list_unversioned (struct store_export *e,
                                        int (*fn) (void *opaque,
                                                   uint32_t page,
                                                   const char *version),
                                        void *opaque);

/* ---- The tool side ---- */

struct store_snap_report {
  bool holder;                  /* a server held the export and recorded
                                 * the point */
  uint64_t pages;               /* pages stored at the point */
  uint64_t tombstones;          /* a clone's tombstones at the point */
  uint64_t copied_by_tool;      /* pages the tool copied */
  uint64_t copied_by_holder;    /* pages the holder copied before it
                                 * overwrote or deleted them */
  int64_t point_ms;             /* how long mutations were held off */
  int64_t wait_ms;              /* from the request to the point record */
  int64_t point_known_at;       /* when the tool had the point record:
                                 * Unix time in ms (the point was taken
                                 * before) */
  int64_t total_ms;
  bool not_withdrawn;           /* the request and point record stay
                                 * (reported): the snapshot may still
                                 * have been made */
};

/* Make NAME a read-only snapshot of the export EXPORT of store S (see the
 * top of store-snap.c), waiting at most TIMEOUT_MS for a server that
 * holds EXPORT to record the point; with BREAK_GUARD (the store breaks a
 * held guard: S3's break-lease=true) the tool takes EXPORT's guard from
 * its holder instead of asking it.  NAME's metadata is written last.
 * For tests, the environment variable NBDS3_SNAP_TEST_COPY_AFTER=FILE
 * makes it wait between the point and the copy until FILE exists (two
 * minutes at most), so that a server writes the export meanwhile.
 * 0 and *REP, or -1 after nbdkit_error (EEXIST: NAME exists, or another
 * snapshot of EXPORT is being taken; ENOENT: EXPORT does not exist;
 * ETIMEDOUT: the holder did not answer).
 */
extern int store_snap_take (struct store *s, const char *export,
                            const char *name, unsigned timeout_ms,
                            bool break_guard,
                            struct store_snap_report *rep);

#endif /* NBDS3_STORE_SNAP_H */
