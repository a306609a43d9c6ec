/* SPDX-License-Identifier: MIT
 *
 * Which bytes of one page a client has written: kept by the cache for a
 * page it built from zeros because its index said the page was absent
 * (pagecache.c), so that if the store turns out to hold the page after
 * all, the stored bytes can be merged under exactly the written ones
 * (writeback.c).  A bitmap of 512-byte sectors written whole, plus a byte
 * mask for each sector written only in part (rare: clients mostly write
 * whole sectors), so that the merge is exact to the byte.  Not
 * thread-safe: the cache lock guards it.
 */

#ifndef NBDS3_WRITTEN_H
#define NBDS3_WRITTEN_H

#include <stdint.h>

struct written;

/* Nothing written yet, for a page of PAGE_SIZE bytes.  NULL if out of
 * memory.
 */
extern struct written *written_new (uint32_t page_size);
extern void written_free (struct written *w);

/* Record that bytes [OFF, OFF+N) were written.  0, or -1 (ENOMEM) with
 * W unchanged.
 */
extern int written_mark (struct written *w, uint32_t off, uint32_t n);

/* Copy the written bytes of FROM over TO (pages of the size given to
 * written_new).
 */
extern void written_merge (const struct written *w, const void *from,
                           void *to);

#endif /* NBDS3_WRITTEN_H */
