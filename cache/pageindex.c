/* SPDX-License-Identifier: MIT
 *
 * The two-level page bitmap of pageindex.h.  A chunk covers
 * PAGEINDEX_CHUNK_BITS pages; chunks are allocated when their first bit is
 * set and never freed before the index is.  pageindex_find skips whole
 * words and absent chunks, so extents over a large sparse export are
 * cheap.
 */

#include <config.h>

#include <errno.h>
#include <stdlib.h>

#include "pageindex.h"
#include "text.h"

#define CHUNK_BITS 32768
#define CHUNK_WORDS (CHUNK_BITS / 64)

int
pageindex_init (struct pageindex *idx, uint64_t npages)
{
  idx->npages = npages;
  idx->nchunks = (npages + CHUNK_BITS - 1) / CHUNK_BITS;
  idx->count = 0;
  idx->chunks = calloc (idx->nchunks ? idx->nchunks : 1, sizeof (uint64_t *));
  return idx->chunks ? 0 : -1;
}

void
pageindex_free (struct pageindex *idx)
{
  if (idx->chunks) {
    for (uint64_t i = 0; i < idx->nchunks; ++i)
      free (idx->chunks[i]);
    free (idx->chunks);
  }
  idx->chunks = NULL;
}

bool
pageindex_get (const struct pageindex *idx, uint32_t page)
{
  const uint64_t *chunk = idx->chunks[page / CHUNK_BITS];
  uint32_t bit = page % CHUNK_BITS;

  return chunk && (chunk[bit / 64] >> (bit % 64)) & 1;
}

int
pageindex_set (struct pageindex *idx, uint32_t page)
{
  uint64_t **chunk = &idx->chunks[page / CHUNK_BITS];
  uint32_t bit = page % CHUNK_BITS;
  uint64_t mask = UINT64_C (1) << (bit % 64);

  if (*chunk == NULL) {
    *chunk = calloc (CHUNK_WORDS, sizeof (uint64_t));
    if (*chunk == NULL)
      return -1;
  }
  if (!((*chunk)[bit / 64] & mask)) {
    (*chunk)[bit / 64] |= mask;
    idx->count++;
  }
  return 0;
}

void
pageindex_clear (struct pageindex *idx, uint32_t page)
{
  uint64_t *chunk = idx->chunks[page / CHUNK_BITS];
  uint32_t bit = page % CHUNK_BITS;
  uint64_t mask = UINT64_C (1) << (bit % 64);

  if (chunk && (chunk[bit / 64] & mask)) {
    chunk[bit / 64] &= ~mask;
    idx->count--;
  }
}

uint64_t
pageindex_find (const struct pageindex *idx, uint64_t from, uint64_t to,
                bool value)
{
  uint64_t page = from;

  while (page < to) {
    const uint64_t *chunk = idx->chunks[page / CHUNK_BITS];
    uint64_t word, bit;

    if (chunk == NULL) {
      if (!value)
        return page;
      page = (page / CHUNK_BITS + 1) * CHUNK_BITS;
      continue;
    }
    bit = page % CHUNK_BITS;
    word = chunk[bit / 64];
    if (!value)
      word = ~word;
    word &= ~UINT64_C (0) << (bit % 64);
    if (word)
      page = page - bit % 64 + __builtin_ctzll (word);
    else
      page = page - bit % 64 + 64;
    if (word)
      return MIN (page, to);
  }
  return to;
}
