/* SPDX-License-Identifier: MIT
 *
 * Unit tests of iszero_buf (common/iszero.c): every length around its
 * 16-byte head, a non-zero byte at every position of a page (also the
 * last, and with each bit), buffers that do not start aligned, and a
 * large page with its last byte set.
 */

#include <config.h>

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "check_suites.h"
#include "iszero.h"

START_TEST (test_short_lengths)
{
  unsigned char buf[64] = { 0 };

  for (size_t len = 0; len <= sizeof buf; ++len) {
    ck_assert_msg (iszero_buf (buf, len), "len %zu: zeros not zero", len);
    for (size_t i = 0; i < len; ++i) {
      buf[i] = 1;
      ck_assert_msg (!iszero_buf (buf, len), "len %zu: byte %zu missed",
                     len, i);
      buf[i] = 0;
    }
  }
}
END_TEST

START_TEST (test_every_position_of_a_page)
{
  const size_t len = 4096;
  unsigned char *buf = calloc (1, len);

  ck_assert_ptr_nonnull (buf);
  ck_assert (iszero_buf (buf, len));
  for (size_t i = 0; i < len; ++i) {
    buf[i] = 1 << (i % 8);
    ck_assert_msg (!iszero_buf (buf, len), "byte %zu missed", i);
    buf[i] = 0;
  }
  ck_assert (iszero_buf (buf, len));
  free (buf);
}
END_TEST

START_TEST (test_unaligned_start)
{
  unsigned char buf[1024 + 16] = { 0 };

  for (size_t start = 1; start < 16; ++start) {
    ck_assert (iszero_buf (buf + start, 1024));
    buf[start + 1023] = 0x80;
    ck_assert_msg (!iszero_buf (buf + start, 1024), "start %zu", start);
    buf[start + 1023] = 0;
    buf[start - 1] = 1;         /* before the buffer: not looked at */
    ck_assert (iszero_buf (buf + start, 1024));
    buf[start - 1] = 0;
  }
}
END_TEST

START_TEST (test_large_page_last_byte)
{
  const size_t len = 4 << 20;
  unsigned char *buf = calloc (1, len + 1);

  ck_assert_ptr_nonnull (buf);
  ck_assert (iszero_buf (buf, len));
  buf[len] = 1;                 /* just past the end: not looked at */
  ck_assert (iszero_buf (buf, len));
  buf[len - 1] = 1;
  ck_assert (!iszero_buf (buf, len));
  free (buf);
}
END_TEST

Suite *
iszero_suite (void)
{
  Suite *s = suite_create ("iszero");
  TCase *tc = tcase_create ("iszero");

  tcase_add_test (tc, test_short_lengths);
  tcase_add_test (tc, test_every_position_of_a_page);
  tcase_add_test (tc, test_unaligned_start);
  tcase_add_test (tc, test_large_page_last_byte);
  suite_add_tcase (s, tc);
  return s;
}
