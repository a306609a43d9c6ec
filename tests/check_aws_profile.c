/* SPDX-License-Identifier: MIT
 *
 * Unit tests of aws-profile.c, the reader of the AWS shared config and
 * credentials files: "[profile NAME]" and "[default]" in the config file,
 * "[NAME]" in the credentials file, which wins; nested values
 * ("s3 =\n  addressing_style = path"); comments, ':' and CRLF; merged
 * repeated sections; AWS_PROFILE, AWS_CONFIG_FILE,
 * AWS_SHARED_CREDENTIALS_FILE and HOME; absent files; malformed and
 * unreadable files refused with the file and line named.  Each test runs
 * in its own process with a temporary HOME.
 */

#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "aws-profile.h"
#include "check_suites.h"
#include "nbdkit-stubs.h"

static char home[64];

static void
profile_setup (void)
{
  static const char *const vars[] = {
    "AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
  };
  char aws[128];

  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; ++i)
    unsetenv (vars[i]);
  snprintf (home, sizeof home, "/tmp/check-aws-profile-XXXXXX");
  ck_assert_ptr_nonnull (mkdtemp (home));
  setenv ("HOME", home, 1);
  snprintf (aws, sizeof aws, "%s/.aws", home);
  ck_assert_int_eq (mkdir (aws, 0700), 0);
  stub_reset_errors ();
}

static void
profile_teardown (void)
{
  char cmd[128];

  snprintf (cmd, sizeof cmd, "rm -rf '%s'", home);
  if (system (cmd) != 0)
    fprintf (stderr, "cannot remove %s\n", home);
}

/* Write TEXT to REL under the test HOME. */
static void
put (const char *rel, const char *text)
{
  char path[256];
  FILE *fp;

  snprintf (path, sizeof path, "%s/%s", home, rel);
  fp = fopen (path, "w");
  ck_assert_ptr_nonnull (fp);
  fputs (text, fp);
  ck_assert_int_eq (fclose (fp), 0);
}

#define ASSERT_VALUE(p, key, want)                                      \
  do {                                                                  \
    const char *v_ = aws_profile_get ((p), (key));                      \
    ck_assert_msg (v_ != NULL, "%s: absent", (key));                    \
    ck_assert_str_eq (v_, (want));                                      \
  } while (0)

/* Load NAME, expecting a refusal whose message holds WANT. */
static void
assert_refused (const char *name, const char *want)
{
  char msg[512];

  ck_assert_ptr_null (aws_profile_load (name));
  stub_last_error (msg, sizeof msg);
  ck_assert_msg (strstr (msg, want) != NULL, "'%s' lacks '%s'", msg, want);
}

static const char config_file[] =
  "# the config file\n"
  "[default]\n"
  "region = eu-west-1\n"
  "\n"
  "[profile rgw]\n"
  "region = us-west-2\n"
  "endpoint_url: http://127.0.0.1:7480\n"
  "s3 =\n"
  "    addressing_style = path\n"
  "\n"
  "    ; a comment in the nested block\n"
  "    endpoint_url = http://127.0.0.1:7481\n"
  "Output = json\n"
  "aws_access_key_id = AKIDCONFIG\r\n"
  "[sso-session rgw]\n"
  "region = ap-south-1\n"
  "[profile \"two words\"]\n"
  "region = sa-east-1\n"
  "[profile rgw]\n"
  "region = us-east-2\n";

static const char credentials_file[] =
  "[rgw]\n"
  "aws_access_key_id = AKIDRGW\n"
  "aws_secret_access_key = secret/rgw+x=\n"
  "[profile other]\n"
  "aws_access_key_id = AKIDNOTAPROFILE\n";

START_TEST (test_profile_values)
{
  struct aws_profile *p;

  put (".aws/config", config_file);
  put (".aws/credentials", credentials_file);
  setenv ("AWS_PROFILE", "rgw", 1);
  p = aws_profile_load (NULL);
  ck_assert_ptr_nonnull (p);
  ck_assert_str_eq (aws_profile_name (p), "rgw");
  ASSERT_VALUE (p, "region", "us-east-2");        /* the later section */
  ASSERT_VALUE (p, "endpoint_url", "http://127.0.0.1:7480");
  ASSERT_VALUE (p, "s3.addressing_style", "path");
  ASSERT_VALUE (p, "S3.Addressing_Style", "path");
  ASSERT_VALUE (p, "s3.endpoint_url", "http://127.0.0.1:7481");
  ASSERT_VALUE (p, "output", "json");
  ASSERT_VALUE (p, "aws_access_key_id", "AKIDRGW");  /* credentials win */
  ASSERT_VALUE (p, "aws_secret_access_key", "secret/rgw+x=");
  ck_assert_ptr_null (aws_profile_get (p, "s3"));
  ck_assert_ptr_null (aws_profile_get (p, "addressing_style"));
  ck_assert_ptr_null (aws_profile_get (p, "aws_session_token"));
  aws_profile_free (p);

  p = aws_profile_load ("default");             /* NAME beats AWS_PROFILE */
  ck_assert_ptr_nonnull (p);
  ASSERT_VALUE (p, "region", "eu-west-1");
  ck_assert_ptr_null (aws_profile_get (p, "endpoint_url"));
  aws_profile_free (p);

  p = aws_profile_load ("two words");
  ck_assert_ptr_nonnull (p);
  ASSERT_VALUE (p, "region", "sa-east-1");
  aws_profile_free (p);
}
END_TEST

/* "[sso-session X]" and the credentials file's "[profile X]" are not the
 * profile X; "[X]" in the config file is not a profile either.
 */
START_TEST (test_profile_sections)
{
  struct aws_profile *p;

  put (".aws/config", config_file);
  put (".aws/credentials", credentials_file);
  p = aws_profile_load ("other");
  ck_assert_ptr_nonnull (p);
  ck_assert_ptr_null (aws_profile_get (p, "aws_access_key_id"));
  aws_profile_free (p);
  put (".aws/config", "[rgw]\nregion = x\n");
  p = aws_profile_load ("rgw");
  ck_assert_ptr_nonnull (p);
  ck_assert_ptr_null (aws_profile_get (p, "region"));
  aws_profile_free (p);
}
END_TEST

START_TEST (test_profile_files_from_env)
{
  struct aws_profile *p;
  char path[256];

  put ("cfg", "[profile x]\nregion = from-env\n");
  put ("creds", "[x]\naws_access_key_id = AKIDENVFILE\n");
  put (".aws/config", "[profile x]\nregion = from-home\n");
  setenv ("AWS_CONFIG_FILE", "~/cfg", 1);
  snprintf (path, sizeof path, "%s/creds", home);
  setenv ("AWS_SHARED_CREDENTIALS_FILE", path, 1);
  p = aws_profile_load ("x");
  ck_assert_ptr_nonnull (p);
  ASSERT_VALUE (p, "region", "from-env");
  ASSERT_VALUE (p, "aws_access_key_id", "AKIDENVFILE");
  aws_profile_free (p);
}
END_TEST

START_TEST (test_profile_absent)
{
  struct aws_profile *p = aws_profile_load (NULL);

  ck_assert_ptr_nonnull (p);                    /* no files at all */
  ck_assert_str_eq (aws_profile_name (p), "default");
  ck_assert_ptr_null (aws_profile_get (p, "region"));
  aws_profile_free (p);
  setenv ("AWS_CONFIG_FILE", "/nonexistent/config", 1);
  p = aws_profile_load (NULL);
  ck_assert_ptr_nonnull (p);
  aws_profile_free (p);
  ck_assert_uint_eq (stub_error_count (), 0);
}
END_TEST

START_TEST (test_profile_malformed)
{
  static const struct {
    const char *text, *want;
  } bad[] = {
    { "region = x\n", "line 1: a key before any [section]" },
    { "[default]\nregion x\n", "line 2: neither a [section]" },
    { "[default\n", "line 1: a section header without its ']'" },
    { "[default]\n= x\n", "line 2: a value without a key" },
    { "[default]\ns3 =\n  addressing_style\n", "line 3: a nested line" },
    { "[default]\ns3 =\n  = path\n", "line 3: a nested line without a key" },
  };

  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
    put (".aws/config", bad[i].text);
    assert_refused (NULL, bad[i].want);
    assert_refused (NULL, "/.aws/config");
  }
  put (".aws/config", "[default]\n");
  put (".aws/credentials", "junk\n");
  assert_refused (NULL, "AWS credentials file");
}
END_TEST

START_TEST (test_profile_unreadable)
{
  char path[256];

  snprintf (path, sizeof path, "%s/.aws/credentials", home);
  ck_assert_int_eq (mkdir (path, 0700), 0);    /* a directory: EISDIR */
  assert_refused (NULL, "cannot read the AWS credentials file");
  assert_refused (NULL, "AWS_SHARED_CREDENTIALS_FILE");
}
END_TEST

/* The values of a profile that is not the one asked for are not kept,
 * and an indented line after a plain value continues it.
 */
START_TEST (test_profile_continuation)
{
  struct aws_profile *p;

  put (".aws/config",
       "[profile a]\n"
       "note = one\n"
       "  two\n"
       "[profile b]\n"
       "note = other\n");
  p = aws_profile_load ("a");
  ck_assert_ptr_nonnull (p);
  ASSERT_VALUE (p, "note", "one\ntwo");
  aws_profile_free (p);
}
END_TEST

Suite *
aws_profile_suite (void)
{
  Suite *s = suite_create ("aws_profile");
  TCase *tc = tcase_create ("files");

  tcase_add_checked_fixture (tc, profile_setup, profile_teardown);
  tcase_add_test (tc, test_profile_values);
  tcase_add_test (tc, test_profile_sections);
  tcase_add_test (tc, test_profile_files_from_env);
  tcase_add_test (tc, test_profile_absent);
  tcase_add_test (tc, test_profile_malformed);
  tcase_add_test (tc, test_profile_unreadable);
  tcase_add_test (tc, test_profile_continuation);
  suite_add_tcase (s, tc);
  return s;
}
