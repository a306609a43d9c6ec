/* SPDX-License-Identifier: MIT
 *
 * Unit tests of verified pages: CRC-32C against its published check value
 * (the SSE 4.2 path and the table agree), and store_write_page /
 * store_read_page over the fault-injecting memstore: a page damaged at
 * rest, a page without a checksum in an export that requires one, and a
 * page moved to another index are errors (EIO, the page named), never
 * data.
 */

#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "check_suites.h"
#include "crc32c.h"
#include "memstore.h"
#include "nbdkit-stubs.h"
#include "store.h"

#define PS 4096

START_TEST (test_crc32c_vectors)
{
  static unsigned char buf[100003];

  /* The check value of CRC-32C (RFC 3720, B.4: 32 bytes of zeros too). */
  ck_assert_uint_eq (crc32c (0, "123456789", 9), 0xE3069283);
  memset (buf, 0, 32);
  ck_assert_uint_eq (crc32c (0, buf, 32), 0x8A9136AA);
  memset (buf, 0xff, 32);
  ck_assert_uint_eq (crc32c (0, buf, 32), 0x62A8AB43);

  /* Every length and alignment agrees with the table, also in pieces. */
  for (size_t i = 0; i < sizeof buf; ++i)
    buf[i] = (i * 2654435761u) >> 13;
  for (size_t off = 0; off < 9; ++off)
    for (size_t len = 0; len < 70; ++len)
      ck_assert_uint_eq (crc32c (0, buf + off, len),
                         crc32c_portable (0, buf + off, len));
  ck_assert_uint_eq (crc32c (0, buf, sizeof buf),
                     crc32c_portable (0, buf, sizeof buf));
  /* Around the lengths where the three interleaved streams start. */
  for (size_t off = 0; off < 3; ++off)
    for (size_t len = 3 * 8192 - 9; len < 3 * 8192 + 9; ++len)
      ck_assert_uint_eq (crc32c (7, buf + off, len),
                         crc32c_portable (7, buf + off, len));
  ck_assert_uint_eq (crc32c (0, buf + 5, 6 * 8192 + 13),
                     crc32c_portable (0, buf + 5, 6 * 8192 + 13));
  ck_assert_uint_eq (crc32c (crc32c (0, buf, 1000), buf + 1000,
                             sizeof buf - 1000),
                     crc32c (0, buf, sizeof buf));
}
END_TEST

/* An export of a memstore with metadata that requires checksums or not. */
static struct store_export *
open_checked (struct memstore *ms, bool required)
{
  struct store_meta meta = {
    .version = STORE_META_VERSION, .size = 64 * PS, .page_size = PS,
    .checksums = required,
  };
  struct store_export *e = store_open_export (memstore_store (ms), "e");

  ck_assert_ptr_nonnull (e);
  ck_assert_int_eq (store_write_meta (e, &meta), 0);
  return e;
}

/* Read page PAGE of E, which must fail with EIO and one error naming it. */
static void
read_fails (struct store_export *e, uint32_t page, const char *why)
{
  char buf[PS], msg[512], name[32];

  stub_reset_errors ();
  errno = 0;
  ck_assert_int_eq (store_read_page (e, page, buf, PS), -1);
  ck_assert_int_eq (errno, EIO);
  ck_assert_uint_eq (stub_error_count (), 1);
  stub_last_error (msg, sizeof msg);
  snprintf (name, sizeof name, "page %u", (unsigned) page);
  ck_assert_msg (strstr (msg, name) && strstr (msg, why),
                 "error without \"%s\" and \"%s\": %s", name, why, msg);
}

START_TEST (test_damaged_page_fails)
{
  struct memstore *ms = memstore_new (PS);
  struct store_export *e = open_checked (ms, true);
  char page[PS], got[PS];

  memset (page, 'a', PS);
  ck_assert_int_eq (store_write_page (e, 3, page, PS), 0);
  ck_assert_int_eq (store_read_page (e, 3, got, PS), 1);
  ck_assert_mem_eq (got, page, PS);

  memstore_corrupt (ms, 3, 1000);       /* one bit, at rest */
  read_fails (e, 3, "damaged");
  /* Rewritten whole, it reads again. */
  ck_assert_int_eq (store_write_page (e, 3, page, PS), 0);
  ck_assert_int_eq (store_read_page (e, 3, got, PS), 1);
  store_close_export (e);
  memstore_free (ms);
}
END_TEST

START_TEST (test_page_for_another_index_fails)
{
  struct memstore *ms = memstore_new (PS);
  struct store_export *e = open_checked (ms, true);
  char page[PS], got[PS];

  memset (page, 'b', PS);
  ck_assert_int_eq (store_write_page (e, 5, page, PS), 0);
  ck_assert_int_eq (store_read_page (e, 5, got, PS), 1);
  /* Page 6 gets page 5's bytes and checksum, as a store that served the
   * wrong key would: the checksum is seeded with the index.
   */
  memstore_copy (ms, 5, 6);
  read_fails (e, 6, "damaged");
  store_close_export (e);
  memstore_free (ms);
}
END_TEST

START_TEST (test_missing_checksum)
{
  struct memstore *ms = memstore_new (PS);
  struct store_export *e = open_checked (ms, true);
  char page[PS], got[PS];

  memset (page, 'c', PS);
  memstore_put (ms, 7, page);           /* no checksum */
  read_fails (e, 7, "no checksum");
  store_close_export (e);

  /* An export from before checksums reads such pages as they are. */
  e = open_checked (ms, false);
  ck_assert_int_eq (store_read_page (e, 7, got, PS), 1);
  ck_assert_mem_eq (got, page, PS);
  /* ... but a damaged page that has one still fails. */
  ck_assert_int_eq (store_write_page (e, 8, page, PS), 0);
  memstore_corrupt (ms, 8, PS - 1);
  read_fails (e, 8, "damaged");
  store_close_export (e);
  memstore_free (ms);
}
END_TEST

Suite *
checksum_suite (void)
{
  Suite *s = suite_create ("checksum");
  TCase *tc = tcase_create ("verified pages");

  tcase_add_test (tc, test_crc32c_vectors);
  tcase_add_test (tc, test_damaged_page_fails);
  tcase_add_test (tc, test_page_for_another_index_fails);
  tcase_add_test (tc, test_missing_checksum);
  suite_add_tcase (s, tc);
  return s;
}
