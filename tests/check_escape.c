/* SPDX-License-Identifier: MIT
 *
 * Unit tests of common/escape.c: client text in a log line is printable,
 * one line, and bounded.
 */

#include <config.h>

#include <string.h>

#include <check.h>

#include "check_suites.h"
#include "escape.h"

START_TEST (test_plain_names_unchanged)
{
  char out[ESCAPE_SIZE];

  ck_assert_str_eq (escape_for_log ("disk-1", out), "disk-1");
  ck_assert_str_eq (escape_for_log ("", out), "");
  /* UTF-8 is kept as it is. */
  ck_assert_str_eq (escape_for_log ("d\xc3\xa9j\xc3\xa0", out),
                    "d\xc3\xa9j\xc3\xa0");
}
END_TEST

START_TEST (test_control_bytes_escaped)
{
  char out[ESCAPE_SIZE];

  ck_assert_str_eq (escape_for_log ("a\nb\rc\td", out), "a\\nb\\rc\\td");
  ck_assert_str_eq (escape_for_log ("q'\\", out), "q\\'\\\\");
  ck_assert_str_eq (escape_for_log ("\x01\x1b[2J\x7f", out),
                    "\\x01\\x1b[2J\\x7f");
}
END_TEST

START_TEST (test_long_text_cut)
{
  const char *cut = "...(4096 bytes)";
  char in[4097], out[ESCAPE_SIZE];

  memset (in, '\n', sizeof in - 1);
  in[sizeof in - 1] = '\0';
  escape_for_log (in, out);
  /* 64 escaped newlines, then the length. */
  ck_assert_uint_eq (strlen (out), ESCAPE_SHOWN * 2 + strlen (cut));
  ck_assert_ptr_nonnull (strstr (out, cut));
  ck_assert_ptr_null (strchr (out, '\n'));

  /* The worst case fits. */
  memset (in, 0x01, sizeof in - 1);
  escape_for_log (in, out);
  ck_assert_uint_lt (strlen (out), ESCAPE_SIZE);
  ck_assert_uint_eq (strlen (out), ESCAPE_SHOWN * 4 + strlen (cut));

  /* Exactly ESCAPE_SHOWN bytes are not cut. */
  memset (in, 'x', ESCAPE_SHOWN);
  in[ESCAPE_SHOWN] = '\0';
  ck_assert_str_eq (escape_for_log (in, out), in);
}
END_TEST

Suite *
escape_suite (void)
{
  Suite *s = suite_create ("escape");
  TCase *tc = tcase_create ("escape");

  tcase_add_test (tc, test_plain_names_unchanged);
  tcase_add_test (tc, test_control_bytes_escaped);
  tcase_add_test (tc, test_long_text_cut);
  suite_add_tcase (s, tc);
  return s;
}
