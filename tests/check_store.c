/* SPDX-License-Identifier: MIT
 *
 * Unit tests of store.c: the export name rule, the metadata format and the
 * page names that both stores share; and of the S3 store's ETag table
 * (store-s3-etags.c), which keeps what it is given.
 */

#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "store.h"
#include "store-s3-etags.h"
#include "check_suites.h"
#include "nbdkit-stubs.h"

START_TEST (test_export_names)
{
  char long_name[STORE_EXPORT_NAME_MAX + 2];

  ck_assert (store_export_name_valid ("default"));
  ck_assert (store_export_name_valid ("a"));
  ck_assert (store_export_name_valid ("disk one"));
  ck_assert (store_export_name_valid ("caf\xc3\xa9"));        /* café */
  ck_assert (store_export_name_valid ("x.."));
  ck_assert (!store_export_name_valid (""));
  ck_assert (!store_export_name_valid ("."));
  ck_assert (!store_export_name_valid (".."));
  ck_assert (!store_export_name_valid ("../x"));
  ck_assert (!store_export_name_valid (".hidden"));
  ck_assert (!store_export_name_valid ("a/b"));
  ck_assert (!store_export_name_valid ("tab\there"));
  ck_assert (!store_export_name_valid ("del\x7f"));
  ck_assert (!store_export_name_valid ("\xc3"));             /* truncated */
  ck_assert (!store_export_name_valid ("\xc0\xaf"));         /* overlong / */
  ck_assert (!store_export_name_valid ("\xed\xa0\x80"));     /* surrogate */
  ck_assert (!store_export_name_valid ("\xc2\x85"));         /* C1 control */
  ck_assert (!store_export_name_valid ("x\xef\xbf\xbf"));     /* U+FFFF */
  ck_assert (!store_export_name_valid ("\xef\xbf\xbe"));      /* U+FFFE */
  ck_assert (store_export_name_valid ("\xef\xbf\xbd"));       /* U+FFFD */

  memset (long_name, 'a', sizeof long_name);
  long_name[STORE_EXPORT_NAME_MAX] = '\0';
  ck_assert (store_export_name_valid (long_name));
  long_name[STORE_EXPORT_NAME_MAX] = 'a';
  long_name[STORE_EXPORT_NAME_MAX + 1] = '\0';
  ck_assert (!store_export_name_valid (long_name));
}
END_TEST

START_TEST (test_meta_round_trip)
{
  struct store_meta in = {
    .version = STORE_META_VERSION, .size = UINT64_C (1) << 40,
    .page_size = 4 << 20, .checksums = true,
  };
  struct store_meta out = { 0 };
  char buf[STORE_META_MAX];
  size_t len = store_meta_format (&in, buf);

  ck_assert_uint_gt (len, 0);
  ck_assert_uint_lt (len, STORE_META_MAX);
  ck_assert_int_eq (store_meta_parse (buf, len, &out, "test"), 0);
  ck_assert_uint_eq (out.version, in.version);
  ck_assert_uint_eq (out.size, in.size);
  ck_assert_uint_eq (out.page_size, in.page_size);
  ck_assert (out.checksums);

  /* Format 1, from before checksums: read, no checksums required. */
  ck_assert_int_eq (store_meta_parse ("version=1\nsize=10\npage-size=4096\n",
                                      33, &out, "test"), 0);
  ck_assert_uint_eq (out.version, 1);
  ck_assert (!out.checksums);
}
END_TEST

/* A clone's or a snapshot's fields need format 3; a plain export keeps
 * format 2, as before clones.
 */
START_TEST (test_meta_v3_fields)
{
  struct store_meta in = {
    .version = STORE_META_VERSION_PLAIN, .size = 1 << 20,
    .page_size = 4096, .checksums = true, .base = "golden",
  };
  struct store_meta out;
  char buf[STORE_META_MAX];
  size_t len = store_meta_format (&in, buf);

  ck_assert_int_eq (store_meta_parse (buf, len, &out, "test"), 0);
  ck_assert_uint_eq (out.version, 3);
  ck_assert_str_eq (out.base, "golden");
  ck_assert (!out.read_only);
  ck_assert_str_eq (out.snapshot_of, "");

  memset (&in.base, 0, sizeof in.base);
  in.read_only = true;
  strcpy (in.snapshot_of, "vm-1");
  len = store_meta_format (&in, buf);
  ck_assert_int_eq (store_meta_parse (buf, len, &out, "test"), 0);
  ck_assert_uint_eq (out.version, 3);
  ck_assert_str_eq (out.base, "");
  ck_assert (out.read_only);
  ck_assert_str_eq (out.snapshot_of, "vm-1");

  in.read_only = false;
  in.snapshot_of[0] = '\0';
  len = store_meta_format (&in, buf);
  ck_assert (strstr (buf, "version=2\n") != NULL);
}
END_TEST

START_TEST (test_meta_damaged)
{
  static const char *const bad[] = {
    "",
    "version=1\nsize=10\n",                        /* no page-size */
    "version=1\nsize=10\npage-size=4097\n",        /* not a power of two */
    "version=1\nsize=-1\npage-size=4096\n",
    "version=1\nsize=12x\npage-size=4096\n",
    "version=4\nsize=10\npage-size=4096\n",        /* future format */
    "version=2\nsize=10\npage-size=4096\nbase=b\n", /* base needs 3 */
    "version=3\nsize=10\npage-size=4096\nbase=a/b\n", /* invalid name */
    "version=3\nsize=10\npage-size=4096\nread-only=yes\n",
    "version=0\nsize=10\npage-size=4096\n",
    "garbage",
  };
  struct store_meta out;
  char msg[256];

  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
    stub_reset_errors ();
    ck_assert_int_eq (store_meta_parse (bad[i], strlen (bad[i]), &out,
                                        "where/nbds3.meta"), -1);
    ck_assert_uint_eq (stub_error_count (), 1);
    ck_assert_ptr_nonnull (strstr (stub_last_error (msg, sizeof msg),
                                   "where/nbds3.meta"));
  }
}
END_TEST

START_TEST (test_page_names)
{
  char name[64];
  uint32_t page = 0;

  snprintf (name, sizeof name, STORE_PAGE_NAME_FMT, (uint32_t) 0xdeadbeef);
  ck_assert_str_eq (name, "page-deadbeef.bin");
  ck_assert (store_page_name_parse (name, &page));
  ck_assert_uint_eq (page, 0xdeadbeef);
  ck_assert (store_page_name_parse ("page-00000000.bin", &page));
  ck_assert_uint_eq (page, 0);
  ck_assert (!store_page_name_parse ("page-0000000.bin", &page));
  ck_assert (!store_page_name_parse ("page-DEADBEEF.bin", &page));
  ck_assert (!store_page_name_parse ("page-00000000.bin.tmp", &page));
  ck_assert (!store_page_name_parse ("nbds3.meta", &page));
}
END_TEST

START_TEST (test_checksum_text)
{
  struct store_checksum in = { .present = true, .crc32c = 0xe3069283 };
  struct store_checksum out = { .present = false };
  char text[STORE_CHECKSUM_TEXT_LEN + 1];

  store_checksum_format (&in, text);
  ck_assert_str_eq (text, "e3069283");
  ck_assert (store_checksum_parse (text, 8, &out));
  ck_assert (out.present);
  ck_assert_uint_eq (out.crc32c, in.crc32c);
  ck_assert (!store_checksum_parse ("e306928", 7, &out));
  ck_assert (!store_checksum_parse ("e30692830", 9, &out));
  ck_assert (!store_checksum_parse ("E3069283", 8, &out));
  ck_assert (!store_checksum_parse ("e306928g", 8, &out));
}
END_TEST

/* An ETag reads back as it was stored, bare, in either of the table's
 * forms: 32 hex digits in 16 bytes, or a string.  (Found by
 * fuzz-etag-table: upper-case hex came back in lower case, so an
 * If-Match built from it could never match.)
 */
START_TEST (test_etags)
{
  static const char *const etags[] = {
    "\"9e107d9d372bb6826bd81d3542a419d6\"",
    "\"9E107D9D372BB6826BD81D3542A419D6\"",
    "9e107D9D372bb6826bd81d3542a419d6",
    "\"a3f5c1d2e4b6978812345678abcdef01-2\"",
    "W/\"0815\"",
    "",
  };
  struct s3_etags t;
  char bare[S3_HTTP_ETAG_MAX], got[S3_HTTP_ETAG_MAX];

  s3_etags_init (&t);
  for (size_t i = 0; i < sizeof etags / sizeof etags[0]; ++i) {
    ck_assert_int_eq (s3_etags_set (&t, i, etags[i]), 0);
    s3_etag_bare (etags[i], bare);
    ck_assert (s3_etags_get (&t, i, got));
    ck_assert_str_eq (got, bare);
  }
  s3_etags_remove (&t, 1);
  ck_assert (!s3_etags_get (&t, 1, got));
  ck_assert (s3_etags_get (&t, 2, got));
  ck_assert_str_eq (got, "9e107D9D372bb6826bd81d3542a419d6");
  s3_etags_free (&t);
}
END_TEST

/* Removing a page shifts the entries after it back into the hole; the
 * entry left behind must not keep the string it handed on.  (Found by
 * fuzz-etag-table: s3_etags_free freed it twice, and a page set into the
 * old slot freed the string of the page that had moved.)
 */
START_TEST (test_etags_remove_shift)
{
  struct s3_etags t;
  char want[S3_HTTP_ETAG_MAX], got[S3_HTTP_ETAG_MAX];
  const uint32_t pages = 700;   /* below the first growth: collisions */

  s3_etags_init (&t);
  for (uint32_t p = 0; p < pages; ++p) {
    snprintf (want, sizeof want, "\"%08" PRIx32 "-1\"", p);
    ck_assert_int_eq (s3_etags_set (&t, p, want), 0);
  }
  for (uint32_t p = 0; p < pages; p += 2)
    s3_etags_remove (&t, p);
  for (uint32_t p = 0; p < pages; p += 2) {
    snprintf (want, sizeof want, "new-%08" PRIx32 "-2", p);
    ck_assert_int_eq (s3_etags_set (&t, p, want), 0);
  }
  for (uint32_t p = 0; p < pages; ++p) {
    if (p % 2)
      snprintf (want, sizeof want, "%08" PRIx32 "-1", p);
    else
      snprintf (want, sizeof want, "new-%08" PRIx32 "-2", p);
    ck_assert (s3_etags_get (&t, p, got));
    ck_assert_str_eq (got, want);
  }
  ck_assert_uint_eq (t.n, pages);
  s3_etags_free (&t);
}
END_TEST

Suite *
store_suite (void)
{
  Suite *s = suite_create ("store");
  TCase *tc = tcase_create ("shared");

  tcase_add_test (tc, test_export_names);
  tcase_add_test (tc, test_meta_round_trip);
  tcase_add_test (tc, test_meta_v3_fields);
  tcase_add_test (tc, test_meta_damaged);
  tcase_add_test (tc, test_page_names);
  tcase_add_test (tc, test_checksum_text);
  tcase_add_test (tc, test_etags);
  tcase_add_test (tc, test_etags_remove_shift);
  suite_add_tcase (s, tc);
  return s;
}
