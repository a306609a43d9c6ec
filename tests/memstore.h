/* SPDX-License-Identifier: MIT
 *
 * An in-memory, fault-injecting page store for the cache's unit tests
 * only (integration tests never use it).  It counts calls, can fail or
 * delay each kind of request, can hold writes at a gate so a test
 * controls their order, and logs every mutation in order.
 */

#ifndef NBDS3_MEMSTORE_H
#define NBDS3_MEMSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

enum memstore_op { MS_READ, MS_WRITE, MS_DELETE, MS_LIST, MS_SYNC, MS_NR_OPS };

struct memstore;

extern struct memstore *memstore_new (uint32_t page_size);
extern struct store *memstore_store (struct memstore *m);
extern void memstore_free (struct memstore *m);

/* Calls of OP so far (all exports). */
extern unsigned memstore_count (struct memstore *m, enum memstore_op op);
/* Make OP fail with ERR (0: succeed again). */
extern void memstore_fail (struct memstore *m, enum memstore_op op, int err);
/* Delay every OP by MS milliseconds. */
extern void memstore_delay (struct memstore *m, enum memstore_op op,
                            unsigned ms);
/* Hold write and delete calls at a gate until opened; waiting calls are
 * counted by memstore_gate_waiters.
 */
extern void memstore_gate (struct memstore *m, bool closed);
extern unsigned memstore_gate_waiters (struct memstore *m);
/* Put page INDEX of export "e" directly, bypassing the counters, without
 * a checksum.
 */
extern void memstore_put (struct memstore *m, uint32_t index,
                          const void *buf);
/* Put page INDEX as memstore_put does, but left out of listings, and the
 * next write of it, unless a read of it comes first, fails with EEXIST
 * and writes nothing (an S3 page the listing missed, written by an
 * earlier nbds3; the failure records it, as the S3 store records its
 * ETag).
 */
extern void memstore_put_unlisted (struct memstore *m, uint32_t index,
                                   const void *buf);
/* Store page FROM's bytes and checksum as page TO (a store serving the
 * wrong key).
 */
extern void memstore_copy (struct memstore *m, uint32_t from, uint32_t to);
/* Flip one bit of byte OFFSET of stored page INDEX, keeping the checksum
 * stored with it (damage at rest).
 */
extern void memstore_corrupt (struct memstore *m, uint32_t index,
                              size_t offset);
/* Copy stored page INDEX into BUF; false if not stored. */
extern bool memstore_get (struct memstore *m, uint32_t index, void *buf);
/* The mutation log: "W3 D3 ..." for write/delete of page 3. */
extern const char *memstore_log (struct memstore *m);

#endif /* NBDS3_MEMSTORE_H */
