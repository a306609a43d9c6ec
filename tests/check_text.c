/* SPDX-License-Identifier: MIT
 *
 * Unit tests of the config value parsers of text.c (strict decimal
 * numbers, sizes with nbdkit's suffixes, booleans) and of version.c
 * (parsing `nbdkit --version` and the range of nbdkit versions with the
 * client-reset abort).
 */

#include <config.h>

#include <errno.h>
#include <stdint.h>

#include <check.h>

#include "check_suites.h"
#include "text.h"
#include "version.h"

/* Assert that PARSE (S, &v) fails with errno ERR and leaves v alone. */
#define ASSERT_REFUSED(parse, s, err)                                   \
  do {                                                                  \
    uint64_t v_ = 42;                                                   \
    errno = 0;                                                          \
    ck_assert_msg (parse (s, &v_) == -1, "'%s' was accepted", s);       \
    ck_assert_msg (errno == (err), "'%s': errno %d, not %d", s, errno,  \
                   err);                                                \
    ck_assert_uint_eq (v_, 42);                                         \
  } while (0)

#define ASSERT_PARSES(parse, s, want)                                   \
  do {                                                                  \
    uint64_t v_ = 42;                                                   \
    ck_assert_msg (parse (s, &v_) == 0, "'%s' was refused", s);         \
    ck_assert_uint_eq (v_, (want));                                     \
  } while (0)

struct refusal {
  const char *s;
  int err;
};

#define NR(a) (sizeof (a) / sizeof (a)[0])

START_TEST (test_decimal)
{
  static const struct refusal refused[] = {
    { "18446744073709551616", ERANGE }, { "99999999999999999999999", ERANGE },
    { "", EINVAL }, { "0x10", EINVAL }, { " 5", EINVAL }, { "5 ", EINVAL },
    { "+5", EINVAL }, { "-5", EINVAL }, { "abc", EINVAL }, { "5k", EINVAL },
    { "1e3", EINVAL },
  };

  ASSERT_PARSES (text_parse_decimal, "0", 0);
  ASSERT_PARSES (text_parse_decimal, "5", 5);
  ASSERT_PARSES (text_parse_decimal, "007", 7);
  ASSERT_PARSES (text_parse_decimal, "18446744073709551615", UINT64_MAX);
  for (size_t i = 0; i < NR (refused); ++i)
    ASSERT_REFUSED (text_parse_decimal, refused[i].s, refused[i].err);
}
END_TEST

/* The loose parser of stored text keeps accepting white space around. */
START_TEST (test_u64_loose)
{
  ASSERT_PARSES (text_parse_u64, " 5\r\n", 5);
  ASSERT_REFUSED (text_parse_u64, "18446744073709551616", ERANGE);
  ck_assert_int_eq (text_parse_u64 ("+5", &(uint64_t) { 0 }), -1);
  ck_assert_int_eq (text_parse_u64 ("5 x", &(uint64_t) { 0 }), -1);
  ck_assert_int_eq (text_parse_u64 ("", &(uint64_t) { 0 }), -1);
}
END_TEST

START_TEST (test_size)
{
  static const struct {
    const char *s;
    uint64_t bytes;
  } sizes[] = {
    { "0", 0 }, { "4096", 4096 }, { "10b", 10 }, { "10B", 10 },
    { "2s", 1024 }, { "64k", 65536 }, { "64K", 65536 }, { "4M", 4 << 20 },
    { "1g", UINT64_C (1) << 30 }, { "1T", UINT64_C (1) << 40 },
    { "1p", UINT64_C (1) << 50 }, { "7E", UINT64_C (7) << 60 },
    { "9223372036854775807", INT64_MAX },
  };
  static const struct refusal refused[] = {
    { "9223372036854775808", ERANGE }, { "8E", ERANGE },
    { "8388608T", ERANGE }, { "99999999999999999999999", ERANGE },
    { "", EINVAL }, { "M", EINVAL }, { "1.5M", EINVAL }, { "0x10", EINVAL },
    { "4e3", EINVAL }, { "4MB", EINVAL }, { "4MiB", EINVAL },
    { "4 M", EINVAL }, { " 4M", EINVAL }, { "4M ", EINVAL },
    { "+4M", EINVAL }, { "-4M", EINVAL }, { "4x", EINVAL },
  };

  for (size_t i = 0; i < NR (sizes); ++i)
    ASSERT_PARSES (text_parse_size, sizes[i].s, sizes[i].bytes);
  for (size_t i = 0; i < NR (refused); ++i)
    ASSERT_REFUSED (text_parse_size, refused[i].s, refused[i].err);
}
END_TEST

START_TEST (test_bool)
{
  static const char *const yes[] = { "1", "true", "TRUE", "t", "yes", "Y",
                                     "on", "On" };
  static const char *const no[] = { "0", "false", "F", "no", "n", "off",
                                    "OFF" };
  static const char *const neither[] = { "", " on", "on ", "2", "01",
                                         "yess", "enable", "nope", "of" };

  for (size_t i = 0; i < NR (yes); ++i)
    ck_assert_msg (text_parse_bool (yes[i]) == 1, "'%s'", yes[i]);
  for (size_t i = 0; i < NR (no); ++i)
    ck_assert_msg (text_parse_bool (no[i]) == 0, "'%s'", no[i]);
  for (size_t i = 0; i < NR (neither); ++i)
    ck_assert_msg (text_parse_bool (neither[i]) == -1, "'%s'", neither[i]);
}
END_TEST

START_TEST (test_version_parse)
{
  struct version v = { 9, 9, 9 };

  ck_assert_int_eq (version_parse_nbdkit ("nbdkit 1.32.5", &v), 0);
  ck_assert_uint_eq (v.major, 1);
  ck_assert_uint_eq (v.minor, 32);
  ck_assert_uint_eq (v.micro, 5);
  ck_assert_int_eq (version_parse_nbdkit ("nbdkit 1.34.10 (fc39)", &v), 0);
  ck_assert_uint_eq (v.minor, 34);
  ck_assert_uint_eq (v.micro, 10);
  ck_assert_int_eq (version_parse_nbdkit ("nbdkit 2.0.0\n", &v), 0);
  ck_assert_uint_eq (v.major, 2);
  v = (struct version) { 9, 9, 9 };
  ck_assert_int_eq (version_parse_nbdkit ("", &v), -1);
  ck_assert_int_eq (version_parse_nbdkit ("nbdkit", &v), -1);
  ck_assert_int_eq (version_parse_nbdkit ("nbdkit 1.32", &v), -1);
  ck_assert_int_eq (version_parse_nbdkit ("nbdkit 1.32.", &v), -1);
  ck_assert_int_eq (version_parse_nbdkit ("nbdkit 1.32.5x", &v), -1);
  ck_assert_int_eq (version_parse_nbdkit ("nbdkit +1.32.5", &v), -1);
  ck_assert_int_eq (version_parse_nbdkit ("qemu-nbd 1.32.5", &v), -1);
  ck_assert_int_eq (version_parse_nbdkit ("nbdkit 99999999999.1.1", &v), -1);
  ck_assert_uint_eq (v.major, 9);
}
END_TEST

static bool
affected (unsigned major, unsigned minor, unsigned micro)
{
  struct version v = { major, minor, micro };

  return version_has_reset_abort (&v);
}

START_TEST (test_version_reset_abort)
{
  /* Introduced by daef505e in 1.32.4, fixed by 9d82aa4f in 1.33.10. */
  ck_assert (!affected (1, 30, 99));
  ck_assert (!affected (1, 32, 3));
  ck_assert (affected (1, 32, 4));
  ck_assert (affected (1, 32, 5));
  ck_assert (affected (1, 32, 99));
  ck_assert (affected (1, 33, 0));
  ck_assert (affected (1, 33, 9));
  ck_assert (!affected (1, 33, 10));
  ck_assert (!affected (1, 34, 0));
  ck_assert (!affected (1, 34, 4));
  ck_assert (!affected (2, 0, 0));
  ck_assert (!affected (0, 32, 5));
}
END_TEST

Suite *
text_suite (void)
{
  Suite *s = suite_create ("text");
  TCase *tc = tcase_create ("parsers");

  tcase_add_test (tc, test_decimal);
  tcase_add_test (tc, test_u64_loose);
  tcase_add_test (tc, test_size);
  tcase_add_test (tc, test_bool);
  tcase_add_test (tc, test_version_parse);
  tcase_add_test (tc, test_version_reset_abort);
  suite_add_tcase (s, tc);
  return s;
}
