/* SPDX-License-Identifier: MIT
 *
 * Unit tests of s3-settings.c: where region, endpoint, addressing and CA
 * bundle come from (keys, then AWS_* variables, then the profile of a
 * temporary ~/.aws/config, then defaults); the checks of prefix=, sse=,
 * sse-kms-key-id= and storage-class=; and the region redirect decisions
 * that s3-http.c follows: which region S3 reported, and that it is
 * followed only on AWS's own endpoint form without region=.
 */

#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <check.h>

#include "check_suites.h"
#include "nbdkit-stubs.h"
#include "s3-config.h"
#include "s3-settings.h"

static char home[64];

static void
settings_setup (void)
{
  static const char *const vars[] = {
    "AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3", "AWS_CA_BUNDLE",
  };
  char path[128];
  FILE *fp;

  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; ++i)
    unsetenv (vars[i]);
  snprintf (home, sizeof home, "/tmp/check-s3-settings-XXXXXX");
  ck_assert_ptr_nonnull (mkdtemp (home));
  setenv ("HOME", home, 1);
  snprintf (path, sizeof path, "%s/.aws", home);
  ck_assert_int_eq (mkdir (path, 0700), 0);
  snprintf (path, sizeof path, "%s/.aws/config", home);
  fp = fopen (path, "w");
  ck_assert_ptr_nonnull (fp);
  fputs ("[profile p]\n"
         "region = eu-north-1\n"
         "endpoint_url = http://127.0.0.1:1\n"
         "ca_bundle = /nonexistent/ca.pem\n"
         "s3 =\n"
         "  addressing_style = virtual\n"
         "  endpoint_url = http://127.0.0.1:2\n"
         "[profile bad]\n"
         "s3 =\n"
         "  addressing_style = sideways\n", fp);
  ck_assert_int_eq (fclose (fp), 0);
  stub_reset_errors ();
}

static void
settings_teardown (void)
{
  char cmd[128];

  snprintf (cmd, sizeof cmd, "rm -rf '%s'", home);
  if (system (cmd) != 0)
    fprintf (stderr, "cannot remove %s\n", home);
}

static void
assert_error (const char *want)
{
  char msg[1024];

  stub_last_error (msg, sizeof msg);
  ck_assert_msg (strstr (msg, want) != NULL, "'%s' lacks '%s'", msg, want);
}

START_TEST (test_defaults)
{
  struct s3_config c = { .bucket = strdup ("b") };

  ck_assert_int_eq (s3_settings_resolve (&c), 0);
  ck_assert_str_eq (c.region, "us-east-1");
  ck_assert_ptr_null (c.endpoint);
  ck_assert (!c.region_given);
  ck_assert_int_eq (c.addressing, S3_ADDRESSING_AUTO);
  s3_config_free (&c);
}
END_TEST

START_TEST (test_from_profile)
{
  struct s3_config c = { .bucket = strdup ("b") };

  setenv ("AWS_PROFILE", "p", 1);
  setenv ("AWS_CA_BUNDLE", "/etc/hostname", 1);
  ck_assert_int_eq (s3_settings_resolve (&c), 0);
  ck_assert_str_eq (c.region, "eu-north-1");
  ck_assert_str_eq (c.endpoint, "http://127.0.0.1:2");     /* s3 first */
  ck_assert_int_eq (c.addressing, S3_ADDRESSING_VIRTUAL);
  ck_assert_str_eq (c.ca_file, "/etc/hostname");           /* env first */
  s3_config_free (&c);
}
END_TEST

START_TEST (test_env_and_keys_win)
{
  struct s3_config c = {
    .bucket = strdup ("b"), .region = strdup ("ap-east-1"),
    .addressing = S3_ADDRESSING_PATH, .addressing_given = true,
  };

  setenv ("AWS_PROFILE", "p", 1);
  setenv ("AWS_REGION", "us-west-1", 1);
  setenv ("AWS_ENDPOINT_URL", "http://127.0.0.1:3", 1);
  setenv ("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:4", 1);
  setenv ("AWS_CA_BUNDLE", "/etc/hostname", 1);
  ck_assert_int_eq (s3_settings_resolve (&c), 0);
  ck_assert_str_eq (c.region, "ap-east-1");                /* region= */
  ck_assert (c.region_given);
  ck_assert_str_eq (c.endpoint, "http://127.0.0.1:4");     /* _S3 first */
  ck_assert_int_eq (c.addressing, S3_ADDRESSING_PATH);
  s3_config_free (&c);
  memset (&c, 0, sizeof c);
  c.bucket = strdup ("b");
  unsetenv ("AWS_REGION");
  setenv ("AWS_DEFAULT_REGION", "sa-east-1", 1);
  ck_assert_int_eq (s3_settings_resolve (&c), 0);
  ck_assert_str_eq (c.region, "sa-east-1");
  ck_assert (!c.region_given);
  s3_config_free (&c);
}
END_TEST

START_TEST (test_profile_refusals)
{
  struct s3_config c = { .bucket = strdup ("b") };

  setenv ("AWS_PROFILE", "bad", 1);
  ck_assert_int_eq (s3_settings_resolve (&c), -1);
  assert_error ("profile bad: s3 addressing_style = sideways");
  s3_config_free (&c);
  memset (&c, 0, sizeof c);
  c.bucket = strdup ("b");
  setenv ("AWS_PROFILE", "p", 1);             /* ca_bundle is missing */
  ck_assert_int_eq (s3_settings_resolve (&c), -1);
  assert_error ("CA bundle /nonexistent/ca.pem");
  s3_config_free (&c);
}
END_TEST

START_TEST (test_prefix)
{
  static const char *const good[] = {
    "a", "tenant-a", "team/vm1", "team/vm1/", "x.y", "a..b", "~_-+=!",
  };
  static const char *const bad[] = {
    "", "/a", "a//b", ".", "..", "a/../b", "a/./b", "../a", "a/..",
    "sp ace", "tab\tx", "\x7f", "\xc3\xa9",
  };
  struct s3_config c = { .bucket = strdup ("b"), .prefix = strdup ("t/v/") };

  for (size_t i = 0; i < sizeof good / sizeof good[0]; ++i)
    ck_assert_msg (s3_settings_prefix_valid (good[i]), "'%s'", good[i]);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i)
    ck_assert_msg (!s3_settings_prefix_valid (bad[i]), "'%s'", bad[i]);
  ck_assert_int_eq (s3_settings_resolve (&c), 0);
  ck_assert_str_eq (c.prefix, "t/v");                      /* no '/' */
  s3_config_free (&c);
  memset (&c, 0, sizeof c);
  c.bucket = strdup ("b");
  c.prefix = strdup ("../x");
  ck_assert_int_eq (s3_settings_resolve (&c), -1);
  assert_error ("prefix=../x: not a key prefix");
  s3_config_free (&c);
}
END_TEST

START_TEST (test_sse_and_class)
{
  static const struct {
    const char *sse, *kms, *class, *want;       /* want NULL: accepted */
  } cases[] = {
    { "AES256", NULL, NULL, NULL },
    { "aws:kms", NULL, NULL, NULL },
    { "aws:kms", "testkey-1", "STANDARD_IA", NULL },
    { NULL, NULL, "INTELLIGENT_TIERING", NULL },
    { "aes256", NULL, NULL, "sse=aes256: use AES256" },
    { "AES256", "k", NULL, "sse-kms-key-id= needs sse=aws:kms" },
    { NULL, "k", NULL, "sse-kms-key-id= needs sse=aws:kms" },
    { NULL, NULL, "GLACIER", "storage-class=GLACIER: use one of" },
    { NULL, NULL, "standard", "storage-class=standard: use one of" },
  };

  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    struct s3_config c = {
      .bucket = strdup ("b"),
      .sse = cases[i].sse ? strdup (cases[i].sse) : NULL,
      .sse_kms_key_id = cases[i].kms ? strdup (cases[i].kms) : NULL,
      .storage_class = cases[i].class ? strdup (cases[i].class) : NULL,
    };

    ck_assert_int_eq (s3_settings_resolve (&c), cases[i].want ? -1 : 0);
    if (cases[i].want)
      assert_error (cases[i].want);
    s3_config_free (&c);
  }
}
END_TEST

START_TEST (test_endpoint_is_aws)
{
  static const char *const aws[] = {
    NULL, "https://s3.amazonaws.com", "https://s3.us-east-1.amazonaws.com",
    "https://s3.eu-west-1.amazonaws.com/", "HTTPS://S3.ap-south-1.AMAZONAWS.COM",
  };
  static const char *const other[] = {
    "http://s3.us-east-1.amazonaws.com", "http://127.0.0.1:7480",
    "https://s3.us-east-1.amazonaws.com.evil.example",
    "https://evil.example/s3.us-east-1.amazonaws.com",
    "https://s3.a.b.amazonaws.com", "https://s3..amazonaws.com",
    "https://s3.us-east-1.amazonaws.com:444", "https://minio.example.com",
    "https://bucket.s3.us-east-1.amazonaws.com",
  };

  for (size_t i = 0; i < sizeof aws / sizeof aws[0]; ++i)
    ck_assert_msg (s3_settings_endpoint_is_aws (aws[i]), "%s", aws[i]);
  for (size_t i = 0; i < sizeof other / sizeof other[0]; ++i)
    ck_assert_msg (!s3_settings_endpoint_is_aws (other[i]), "%s", other[i]);
}
END_TEST

START_TEST (test_redirect)
{
  struct s3_config aws = { .region = (char *) "us-east-1" };
  struct s3_config pinned = aws, custom = aws;
  const char *r;

  pinned.region_given = true;
  custom.endpoint = (char *) "http://127.0.0.1:7480";

  /* The region to re-sign for: the header first, then the body. */
  r = s3_settings_reported_region (&aws, 301, "PermanentRedirect",
                                   "eu-west-1", "ap-south-1");
  ck_assert_str_eq (r, "eu-west-1");
  r = s3_settings_reported_region (&aws, 301, "", "", "ap-south-1");
  ck_assert_str_eq (r, "ap-south-1");
  r = s3_settings_reported_region (&aws, 400, "AuthorizationHeaderMalformed",
                                   NULL, "eu-central-1");
  ck_assert_str_eq (r, "eu-central-1");
  /* Not a redirect, the same region, or no usable region. */
  ck_assert_ptr_null (s3_settings_reported_region (&aws, 403, "AccessDenied",
                                                   "eu-west-1", NULL));
  ck_assert_ptr_null (s3_settings_reported_region (&aws, 400, "BadDigest",
                                                   NULL, "eu-west-1"));
  ck_assert_ptr_null (s3_settings_reported_region (&aws, 301, "", "us-east-1",
                                                   NULL));
  ck_assert_ptr_null (s3_settings_reported_region (&aws, 301, "",
                                                   "evil.example/x", ""));
  ck_assert_ptr_null (s3_settings_reported_region (&aws, 301, "", "EU-WEST-1",
                                                   NULL));
  ck_assert_ptr_null (s3_settings_reported_region (&aws, 301, "", NULL, NULL));

  /* Followed only on AWS's endpoint form, without region=. */
  ck_assert (s3_settings_may_follow (&aws, "eu-west-1"));
  aws.endpoint = (char *) "https://s3.us-east-1.amazonaws.com";
  ck_assert (s3_settings_may_follow (&aws, "eu-west-1"));
  ck_assert (!s3_settings_may_follow (&aws, "eu-west-1.evil.example"));
  ck_assert (!s3_settings_may_follow (&pinned, "eu-west-1"));
  ck_assert (!s3_settings_may_follow (&custom, "eu-west-1"));
}
END_TEST

Suite *
s3_settings_suite (void)
{
  Suite *s = suite_create ("s3_settings");
  TCase *tc = tcase_create ("resolve");
  TCase *pure = tcase_create ("checks");

  tcase_add_checked_fixture (tc, settings_setup, settings_teardown);
  tcase_add_test (tc, test_defaults);
  tcase_add_test (tc, test_from_profile);
  tcase_add_test (tc, test_env_and_keys_win);
  tcase_add_test (tc, test_profile_refusals);
  tcase_add_test (tc, test_prefix);
  tcase_add_test (tc, test_sse_and_class);
  suite_add_tcase (s, tc);
  tcase_add_test (pure, test_endpoint_is_aws);
  tcase_add_test (pure, test_redirect);
  suite_add_tcase (s, pure);
  return s;
}
