/* SPDX-License-Identifier: MIT
 *
 * The written-bytes map of written.h: a bit per sector written whole and,
 * in an unordered array, a mask of 512 bits for each sector written only
 * in part.  A sector whose mask fills up becomes whole.  Marking makes
 * room for its (at most two) partial sectors before it changes anything,
 * so it fails cleanly or not at all.
 */

#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "written.h"

#define SECTOR_MAX 512

struct partial {
  uint32_t sector;
  uint64_t mask[SECTOR_MAX / 64];       /* a bit per byte of the sector */
};

struct written {
  uint32_t sector;              /* bytes per sector: 512, or the page
                                   size if that is smaller */
  uint32_t nsectors;
  struct partial *partial;      /* sectors written in part, unordered */
  uint32_t npartial, nalloc;
  uint64_t whole[];             /* a bit per sector written whole */
};

static bool
bit_get (const uint64_t *map, uint32_t i)
{
  return map[i / 64] >> (i % 64) & 1;
}

static void
bit_set (uint64_t *map, uint32_t i)
{
  map[i / 64] |= UINT64_C (1) << (i % 64);
}

struct written *
written_new (uint32_t page_size)
{
  uint32_t sector = page_size < SECTOR_MAX ? page_size : SECTOR_MAX;
  uint32_t nsectors = page_size / sector;
  struct written *w = calloc (1, sizeof *w +
                              (nsectors + 63) / 64 * sizeof (uint64_t));

  if (w == NULL)
    return NULL;
  w->sector = sector;
  w->nsectors = nsectors;
  return w;
}

void
written_free (struct written *w)
{
  if (w) {
    free (w->partial);
    free (w);
  }
}

/* The partial entry of sector S, or NULL. */
static struct partial *
find_partial (struct written *w, uint32_t s)
{
  for (uint32_t i = 0; i < w->npartial; ++i)
    if (w->partial[i].sector == s)
      return &w->partial[i];
  return NULL;
}

static void
drop_partial (struct written *w, struct partial *p)
{
  *p = w->partial[--w->npartial];
}

/* Mark bytes [FROM, TO) of sector S, written in part, in its partial
 * entry (made if need be: there is room).
 */
static void
mark_part (struct written *w, uint32_t s, uint32_t from, uint32_t to)
{
  struct partial *p;
  bool full = true;

  if (bit_get (w->whole, s))
    return;
  p = find_partial (w, s);
  if (p == NULL) {
    p = &w->partial[w->npartial++];
    memset (p, 0, sizeof *p);
    p->sector = s;
  }
  for (uint32_t b = from; b < to; ++b)
    bit_set (p->mask, b);
  for (uint32_t b = 0; b < w->sector && full; ++b)
    full = bit_get (p->mask, b);
  if (full) {
    bit_set (w->whole, s);
    drop_partial (w, p);
  }
}

int
written_mark (struct written *w, uint32_t off, uint32_t n)
{
  uint32_t first = off / w->sector, last;

  if (n == 0)
    return 0;
  last = (off + n - 1) / w->sector;
  if (w->npartial + 2 > w->nalloc) {
    uint32_t nalloc = w->nalloc ? 2 * w->nalloc : 4;
    struct partial *np = realloc (w->partial, nalloc * sizeof *np);

    if (np == NULL) {
      errno = ENOMEM;
      return -1;
    }
    w->partial = np;
    w->nalloc = nalloc;
  }
  for (uint32_t s = first; s <= last; ++s) {
    uint32_t from = s == first ? off % w->sector : 0;
    uint32_t to = s == last ? (off + n - 1) % w->sector + 1 : w->sector;

    if (from == 0 && to == w->sector) {
      struct partial *p = find_partial (w, s);

      bit_set (w->whole, s);
      if (p)
        drop_partial (w, p);
    }
    else
      mark_part (w, s, from, to);
  }
  return 0;
}

void
written_merge (const struct written *w, const void *from, void *to)
{
  const char *f = from;
  char *t = to;

  for (uint32_t s = 0; s < w->nsectors; ++s)
    if (bit_get (w->whole, s))
      memcpy (t + (size_t) s * w->sector, f + (size_t) s * w->sector,
              w->sector);
  for (uint32_t i = 0; i < w->npartial; ++i) {
    size_t at = (size_t) w->partial[i].sector * w->sector;

    for (uint32_t b = 0; b < w->sector; ++b)
      if (bit_get (w->partial[i].mask, b))
        t[at + b] = f[at + b];
  }
}
