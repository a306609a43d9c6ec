/* SPDX-License-Identifier: MIT
 *
 * The S3 store's ETag table (store-s3-etags.h): the ETag of every page an
 * open export knows to be stored, so that each page PUT or DELETE can be
 * conditional.  Open addressing with linear probing and backward-shift
 * deletion, grown at 3/4; an ETag of 32 lower-case hex digits (a
 * single-part PUT's) takes 16 bytes, any other form is kept as a string,
 * so that every ETag reads back exactly as it was stored.  One mutex guards
 * the table; no call does I/O.
 */

#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-plugin.h>

#include "cleanup.h"
#include "store-s3-etags.h"
#include "text.h"

/* The ETag of one stored page, without quotes: 32 lower-case hex digits
 * (what a single-part PUT gets) kept as 16 bytes, any other form as a string.
 */
struct etag_entry {
  uint32_t page;
  bool used;                    /* a slot of the table holding a page */
  bool is_hex;                  /* HEX holds it, else OTHER */
  uint8_t hex[16];
  char *other;                  /* allocated */
};


static size_t
etag_slot (const struct s3_etags *t, uint32_t page)
{
  uint32_t h = page * UINT32_C (0x9e3779b1);

  return (h ^ (h >> 15)) & (t->cap - 1);
}

void
s3_etag_bare (const char *etag, char out[S3_HTTP_ETAG_MAX])
{
  size_t len = strlen (etag);

  if (len >= 2 && etag[0] == '"' && etag[len - 1] == '"') {
    etag++;
    len -= 2;
  }
  if (len >= S3_HTTP_ETAG_MAX)
    len = S3_HTTP_ETAG_MAX - 1;
  memcpy (out, etag, len);
  out[len] = '\0';
}

/* A lower-case hex digit: text_hex gives back only those, so an ETag
 * with upper-case ones is kept as a string, as it was sent.
 */
static bool
is_lower_hex (char c)
{
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Parse BARE, 32 lower-case hex digits, into HEX.  true if it is that. */
static bool
etag_parse_hex (const char *bare, uint8_t hex[16])
{
  if (strlen (bare) != 32)
    return false;
  for (int i = 0; i < 16; ++i) {
    unsigned v;

    if (!is_lower_hex (bare[2*i]) || !is_lower_hex (bare[2*i+1]) ||
        sscanf (bare + 2*i, "%2x", &v) != 1)
      return false;
    hex[i] = v;
  }
  return true;
}

/* Look PAGE up (with the lock held); NULL if absent. */
static struct etag_entry *
etag_find_locked (struct s3_etags *t, uint32_t page)
{
  if (t->cap == 0)
    return NULL;
  for (size_t i = etag_slot (t, page); t->slots[i].used;
       i = (i + 1) & (t->cap - 1))
    if (t->slots[i].page == page)
      return &t->slots[i];
  return NULL;
}

bool
s3_etags_get (struct s3_etags *t, uint32_t page, char bare[S3_HTTP_ETAG_MAX])
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&t->lock);
  struct etag_entry *en = etag_find_locked (t, page);

  if (en == NULL)
    return false;
  if (!en->is_hex)
    snprintf (bare, S3_HTTP_ETAG_MAX, "%s", en->other);
  else
    text_hex (en->hex, sizeof en->hex, bare);
  return true;
}

int
s3_etags_set (struct s3_etags *t, uint32_t page, const char *etag)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&t->lock);
  struct etag_entry *en = etag_find_locked (t, page);
  char bare[S3_HTTP_ETAG_MAX];
  char *other = NULL;
  uint8_t hex[16] = { 0 };
  bool is_hex;

  s3_etag_bare (etag, bare);
  is_hex = etag_parse_hex (bare, hex);
  if (!is_hex && (other = strdup (bare)) == NULL) {
    nbdkit_error ("s3: out of memory");
    errno = ENOMEM;
    return -1;
  }
  if (en == NULL) {
    if ((t->n + 1) * 4 > t->cap * 3) {       /* grow at 3/4 */
      size_t ncap = t->cap ? t->cap * 2 : 1024;
      struct etag_entry *old = t->slots, *n = calloc (ncap, sizeof *n);
      size_t ocap = t->cap;

      if (n == NULL) {
        nbdkit_error ("s3: out of memory");
        free (other);
        errno = ENOMEM;
        return -1;
      }
      t->slots = n;
      t->cap = ncap;
      for (size_t i = 0; i < ocap; ++i) {
        size_t j;

        if (!old[i].used)
          continue;
        for (j = etag_slot (t, old[i].page); n[j].used;
             j = (j + 1) & (ncap - 1))
          ;
        n[j] = old[i];
      }
      free (old);
    }
    size_t j;
    for (j = etag_slot (t, page); t->slots[j].used;
         j = (j + 1) & (t->cap - 1))
      ;
    en = &t->slots[j];
    en->used = true;
    en->page = page;
    t->n++;
  }
  free (en->other);
  en->other = other;
  en->is_hex = is_hex;
  memcpy (en->hex, hex, sizeof hex);
  return 0;
}

void
s3_etags_remove (struct s3_etags *t, uint32_t page)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&t->lock);
  struct etag_entry *en = etag_find_locked (t, page);
  size_t mask = t->cap - 1, i, j;

  if (en == NULL)
    return;
  i = en - t->slots;
  free (en->other);
  en->other = NULL;
  t->slots[i].used = false;
  t->n--;
  for (j = (i + 1) & mask; t->slots[j].used; j = (j + 1) & mask) {
    size_t home = etag_slot (t, t->slots[j].page);

    /* Move J into the hole at I unless its home lies in (I, J]. */
    if (((j - home) & mask) >= ((j - i) & mask)) {
      t->slots[i] = t->slots[j];
      t->slots[j].used = false;
      t->slots[j].other = NULL;         /* I owns it now */
      i = j;
    }
  }
}

void
s3_etags_init (struct s3_etags *t)
{
  memset (t, 0, sizeof *t);
  pthread_mutex_init (&t->lock, NULL);
}

void
s3_etags_free (struct s3_etags *t)
{
  for (size_t i = 0; i < t->cap; ++i)
    free (t->slots[i].other);
  free (t->slots);
  t->slots = NULL;
  t->n = t->cap = 0;
  pthread_mutex_destroy (&t->lock);
}
