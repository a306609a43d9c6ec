/* SPDX-License-Identifier: MIT
 *
 * Fuzz target: the text formats both page stores read back from the
 * store (store/store.c): the nbds3.meta record (store_meta_parse), and
 * on the same bytes the page name ("page-%08x.bin",
 * store_page_name_parse) and the page checksum text
 * (store_checksum_parse).  A bucket can be written by anyone who holds
 * its keys, so these are parsers of untrusted input.
 *
 * It asserts:
 * - accepted metadata is usable: a version this nbds3 reads, a page size
 *   that is a power of two;
 * - the round trip: store_meta_format of what was parsed fits
 *   STORE_META_MAX and parses to the same record;
 * - a parsed page name is exactly the name the page number formats to,
 *   and a parsed checksum is exactly the text it formats to.
 */

#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "store.h"

static void
check_meta (const uint8_t *data, size_t size)
{
  struct store_meta meta, again;
  char text[STORE_META_MAX];
  size_t n;

  memset (&meta, 0, sizeof meta);
  if (store_meta_parse ((const char *) data, size, &meta, "fuzz") == -1)
    return;
  FUZZ_CHECK (meta.version >= 1 && meta.version <= STORE_META_VERSION);
  FUZZ_CHECK (meta.page_size != 0 &&
              (meta.page_size & (meta.page_size - 1)) == 0);

  n = store_meta_format (&meta, text);
  FUZZ_CHECK (n < STORE_META_MAX && strlen (text) == n);
  memset (&again, 0xa5, sizeof again);
  FUZZ_CHECK (store_meta_parse (text, n, &again, "fuzz") == 0);
  FUZZ_CHECK (again.version == meta.version);
  FUZZ_CHECK (again.size == meta.size);
  FUZZ_CHECK (again.page_size == meta.page_size);
  FUZZ_CHECK (again.checksums == meta.checksums);
  FUZZ_CHECK (strcmp (again.base, meta.base) == 0);
  FUZZ_CHECK (again.read_only == meta.read_only);
  FUZZ_CHECK (strcmp (again.snapshot_of, meta.snapshot_of) == 0);
}

static void
check_page_name (const uint8_t *data, size_t size)
{
  char *name = fuzz_strndup (data, size);
  char again[STORE_PAGE_NAME_LEN + 1];
  uint32_t page;

  if (store_page_name_parse (name, &page)) {
    snprintf (again, sizeof again, STORE_PAGE_NAME_FMT, page);
    FUZZ_CHECK (strcmp (name, again) == 0);
  }
  free (name);
}

static void
check_checksum (const uint8_t *data, size_t size)
{
  struct store_checksum sum = { 0 };
  char text[STORE_CHECKSUM_TEXT_LEN + 1];

  if (!store_checksum_parse ((const char *) data, size, &sum))
    return;
  FUZZ_CHECK (sum.present);
  store_checksum_format (&sum, text);
  FUZZ_CHECK (size == STORE_CHECKSUM_TEXT_LEN &&
              memcmp (text, data, size) == 0);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  check_meta (data, size);
  check_page_name (data, size);
  check_checksum (data, size);
  return 0;
}
