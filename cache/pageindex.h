/* SPDX-License-Identifier: MIT
 *
 * The page index of an export: one bit per page, set when the page exists
 * (holds data) and clear for a hole.  Filled by one store listing when the
 * export is opened and kept current by the cache, it answers "does this
 * page exist?" without a store round trip.  Two levels (chunks of 32768
 * pages allocated on first use), so a huge sparse export costs little.
 * Not thread-safe: the cache lock guards it.
 */

#ifndef NBDS3_PAGEINDEX_H
#define NBDS3_PAGEINDEX_H

#include <stdbool.h>
#include <stdint.h>

struct pageindex {
  uint64_t npages;              /* pages in the export, at most 2^32 */
  uint64_t **chunks;            /* NULL for a chunk with no bit set yet */
  uint64_t nchunks;
  uint64_t count;               /* bits set */
};

extern int pageindex_init (struct pageindex *idx, uint64_t npages);
extern void pageindex_free (struct pageindex *idx);
extern bool pageindex_get (const struct pageindex *idx, uint32_t page);
/* Set a bit; -1 (ENOMEM) only if a chunk cannot be allocated. */
extern int pageindex_set (struct pageindex *idx, uint32_t page);
extern void pageindex_clear (struct pageindex *idx, uint32_t page);
/* The first page in [from, to) whose bit is VALUE, or TO if none. */
extern uint64_t pageindex_find (const struct pageindex *idx, uint64_t from,
                                uint64_t to, bool value);

#endif /* NBDS3_PAGEINDEX_H */
