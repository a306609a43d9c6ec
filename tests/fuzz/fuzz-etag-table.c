/* SPDX-License-Identifier: MIT
 *
 * Fuzz target: the S3 store's ETag table (store/store-s3-etags.c), an
 * open-addressing hash table with linear probing, growth at 3/4 and
 * backward-shift deletion, driven by a sequence of set / get / remove
 * operations decoded from the input and checked against a plain array
 * (the model) after every step.
 *
 * The input is read 3 bytes an operation: an opcode byte, then the page
 * (12 bits, so that pages collide and the table grows past its first
 * 1024 slots) spread over two bytes.  A set's ETag is, by the opcode,
 * 32 lower-case hex digits derived from the page and a counter (the
 * compact form), quoted or not, or a short string taken from the input
 * (the string form).  Asserted: every get answers as the model does, the
 * entry count matches the model, and at the end every page of the model
 * reads back.
 */

#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "store-s3-etags.h"

#define PAGES 4096

static void
check_page (struct s3_etags *t, const bool *present,
            char model[][S3_HTTP_ETAG_MAX], uint32_t page)
{
  char got[S3_HTTP_ETAG_MAX];
  bool found = s3_etags_get (t, page, got);

  FUZZ_CHECK (found == present[page]);
  if (found)
    FUZZ_CHECK (strcmp (got, model[page]) == 0);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static bool present[PAGES];
  static char model[PAGES][S3_HTTP_ETAG_MAX];
  struct s3_etags t;
  size_t count = 0;
  unsigned counter = 0;

  memset (present, 0, sizeof present);
  s3_etags_init (&t);
  for (size_t i = 0; i + 3 <= size; i += 3) {
    uint8_t op = data[i];
    uint32_t page = ((uint32_t) data[i+1] << 4 | data[i+2] >> 4) % PAGES;
    char etag[S3_HTTP_ETAG_MAX + 2], bare[S3_HTTP_ETAG_MAX];

    switch (op % 4) {
    case 0: case 1:             /* set */
      if ((op & 0x80) && i + 4 <= size) {
        /* A string ETag from the input: its length, then its bytes
         * (no NUL, no quote), 0 to 39 of them.
         */
        size_t n = data[i+3] % 40;

        if (n > size - i - 4)
          n = size - i - 4;
        memcpy (bare, data + i + 4, n);
        bare[n] = '\0';
        for (size_t k = 0; k < n; ++k)
          if (bare[k] == '\0' || bare[k] == '"')
            bare[k] = 'x';
        i += n + 1;
      }
      else
        snprintf (bare, sizeof bare, "%08x%08x%08x%08x", page, counter++,
                  op, (unsigned) i);
      snprintf (etag, sizeof etag, (op & 0x40) ? "\"%s\"" : "%s", bare);
      FUZZ_CHECK (s3_etags_set (&t, page, etag) == 0);
      if (!present[page])
        count++;
      present[page] = true;
      memcpy (model[page], bare, sizeof bare);
      break;
    case 2:                     /* remove */
      s3_etags_remove (&t, page);
      if (present[page])
        count--;
      present[page] = false;
      break;
    case 3:                     /* get */
      break;
    }
    check_page (&t, present, model, page);
    FUZZ_CHECK (t.n == count);
    FUZZ_CHECK (t.cap == 0 || t.n * 4 <= t.cap * 3);
  }
  for (uint32_t page = 0; page < PAGES; ++page)
    check_page (&t, present, model, page);
  s3_etags_free (&t);
  return 0;
}
