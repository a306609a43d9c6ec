/* SPDX-License-Identifier: MIT
 *
 * Unit tests of the credential documents and the renewing cache:
 * s3_creds_parse_json and s3_creds_parse_time (s3-creds-parse.c), the
 * JSON-to-credentials checks and the cache's renewal rules
 * (s3-creds-cache.c), with a counting fake source whose credentials
 * expire when the test says: renewal starts at min (5 min, half the
 * lifetime) before the expiration, one fetch at a time while the others
 * keep signing, a failed renewal keeps the valid credentials, a refusal
 * renews once, static credentials never renew.
 */

#include <config.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include <nbdkit-plugin.h>

#include "check_suites.h"
#include "nbdkit-stubs.h"
#include "s3-creds-parse.h"
#include "s3-credentials.h"

/* ---- JSON ---- */

START_TEST (test_json_nested)
{
  static const char text[] =
    " {\"Version\": 1, \"AccessKeyId\": \"AKID\",\n"
    "  \"SecretAccessKey\": \"s\\/e\\\"c\\u00e9\\ud83d\\ude00\",\n"
    "  \"SessionToken\": \"tok\", \"Expiration\": \"2026-12-01T12:00:00Z\","
    "  \"Other\": [1], \"x\": null}";
  struct s3_creds_doc doc;
  char why[128];

  /* Nested values are refused, even in members nbds3 ignores. */
  ck_assert_int_eq (s3_creds_parse_json (text, strlen (text), &doc, why,
                                         sizeof why), -1);
  ck_assert_ptr_nonnull (strstr (why, "nested"));
  ck_assert_ptr_null (doc.access_key_id);
}
END_TEST

START_TEST (test_json_fields)
{
  static const char text[] =
    " {\"Version\": 1, \"AccessKeyId\": \"AKID\",\n"
    "  \"SecretAccessKey\": \"s\\/e\\\"c\\u00e9\\ud83d\\ude00\",\n"
    "  \"SessionToken\": \"tok\", \"Expiration\": \"2026-12-01T12:00:00Z\","
    "  \"Other\": -1.5e3, \"x\": null, \"y\": true}\n";
  struct s3_creds_doc doc;
  char why[128];

  ck_assert_int_eq (s3_creds_parse_json (text, strlen (text), &doc, why,
                                         sizeof why), 0);
  ck_assert (doc.has_version);
  ck_assert_int_eq (doc.version, 1);
  ck_assert_str_eq (doc.access_key_id, "AKID");
  ck_assert_str_eq (doc.secret_access_key, "s/e\"c\xc3\xa9\xf0\x9f\x98\x80");
  ck_assert_str_eq (doc.session_token, "tok");
  ck_assert_str_eq (doc.expiration, "2026-12-01T12:00:00Z");
  ck_assert_ptr_null (doc.token);
  s3_creds_doc_free (&doc);
  ck_assert_ptr_null (doc.access_key_id);
}
END_TEST

static const char *const bad_json[] = {
  "", "[]", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\":1}x",
  "{\"a\":\"\\x\"}", "{\"a\":\"\x01\"}", "{\"a\":\"\\u12\"}",
  "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00x\"}", "{\"a\":\"\\u0000\"}",
  "{\"a\":01}", "{\"a\":1.}", "{\"a\":1e}", "{\"a\":tru}",
  "{\"AccessKeyId\":\"a\",\"AccessKeyId\":\"b\"}",
  "{\"Version\":1,\"Version\":1}", "{\"a\":{}}", "{\"a\":\"open",
  "{'a':1}", "{\"a\" 1}",
};

START_TEST (test_json_bad)
{
  const char *text = bad_json[_i];
  struct s3_creds_doc doc;
  char why[128] = "";

  ck_assert_msg (s3_creds_parse_json (text, strlen (text), &doc, why,
                                      sizeof why) == -1, "accepted: %s",
                 text);
  ck_assert (why[0] != '\0');
  ck_assert_ptr_null (doc.access_key_id);
  ck_assert_ptr_null (doc.expiration);
}
END_TEST

START_TEST (test_json_not_nul_terminated)
{
  char text[] = "{\"AccessKeyId\":\"AKID\"}XXXX";
  struct s3_creds_doc doc;
  char why[128];

  ck_assert_int_eq (s3_creds_parse_json (text, strlen (text) - 4, &doc, why,
                                         sizeof why), 0);
  ck_assert_str_eq (doc.access_key_id, "AKID");
  s3_creds_doc_free (&doc);
}
END_TEST

/* ---- Times ---- */

START_TEST (test_time)
{
  time_t t;

  ck_assert_int_eq (s3_creds_parse_time ("1970-01-01T00:00:00Z", &t), 0);
  ck_assert_int_eq (t, 0);
  ck_assert_int_eq (s3_creds_parse_time ("2026-12-01T12:03:49Z", &t), 0);
  ck_assert_int_eq (t, 1796126629);
  ck_assert_int_eq (s3_creds_parse_time ("2026-12-01T12:03:49.739357+00:00",
                                         &t), 0);
  ck_assert_int_eq (t, 1796126629);
  ck_assert_int_eq (s3_creds_parse_time ("2026-12-01T14:03:49+02:00", &t), 0);
  ck_assert_int_eq (t, 1796126629);
  ck_assert_int_eq (s3_creds_parse_time ("2024-02-29T00:00:00Z", &t), 0);
  ck_assert_int_eq (t, 1709164800);
  ck_assert_int_eq (s3_creds_parse_time ("2026-12-01T12:03:49", &t), -1);
  ck_assert_int_eq (s3_creds_parse_time ("2026-13-01T12:03:49Z", &t), -1);
  ck_assert_int_eq (s3_creds_parse_time ("2026-12-01T24:00:00Z", &t), -1);
  ck_assert_int_eq (s3_creds_parse_time ("2026-12-01T12:03:49Zx", &t), -1);
  ck_assert_int_eq (s3_creds_parse_time ("2026-12-01", &t), -1);
  ck_assert_int_eq (s3_creds_parse_time ("", &t), -1);
}
END_TEST

/* ---- From JSON to credentials ---- */

START_TEST (test_value_from_json)
{
  static const char process[] =
    "{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\","
    "\"SessionToken\":\"T\",\"Expiration\":\"2026-12-01T12:03:49Z\"}";
  static const char imds[] =
    "{\"Code\":\"Success\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\","
    "\"Token\":\"T2\",\"Expiration\":\"2026-12-01T12:03:49Z\"}";
  struct s3_creds_value *v;
  char msg[512];

  v = s3_creds_value_from_json ("p", process, strlen (process), true);
  ck_assert_ptr_nonnull (v);
  ck_assert_str_eq (v->session_token, "T");
  ck_assert_int_eq (v->expiration, 1796126629);
  s3_creds_value_put (v);
  v = s3_creds_value_from_json ("i", imds, strlen (imds), false);
  ck_assert_ptr_nonnull (v);
  ck_assert_str_eq (v->session_token, "T2");
  s3_creds_value_put (v);

  /* credential_process needs Version 1; IMDS its Token, not SessionToken. */
  ck_assert_ptr_null (s3_creds_value_from_json ("p", imds, strlen (imds),
                                                true));
  ck_assert_ptr_nonnull (strstr (stub_last_error (msg, sizeof msg),
                                 "\"Version\": 1"));
  v = s3_creds_value_from_json ("i", process, strlen (process), false);
  ck_assert_ptr_null (v->session_token);
  s3_creds_value_put (v);
  ck_assert_ptr_null (s3_creds_value_from_json
                      ("i", "{\"Code\":\"Failed\"}", 17, false));
  ck_assert_ptr_null (s3_creds_value_from_json
                      ("p", "{\"Version\":1,\"AccessKeyId\":\"A\"}", 31,
                       true));
  ck_assert_ptr_nonnull (strstr (stub_last_error (msg, sizeof msg),
                                 "SecretAccessKey"));
  /* No secret in any message. */
  ck_assert_ptr_null (s3_creds_value_from_json
                      ("p", "{\"Version\":1,\"AccessKeyId\":\"A\","
                       "\"SecretAccessKey\":\"SECRETX\",\"Expiration\":"
                       "\"soon\"}", 80, true));
  ck_assert_ptr_null (strstr (stub_last_error (msg, sizeof msg), "SECRETX"));
}
END_TEST

/* ---- The cache ---- */

/* A source that counts its fetches and hands out credentials that live
 * LIFETIME seconds (0: forever), optionally failing, optionally slow.
 */
struct fake {
  struct s3_creds_source src;
  unsigned fetches;             /* atomic */
  unsigned in_fetch, max_in_fetch;      /* atomic */
  time_t lifetime;
  bool fail;
  unsigned delay_ms;
};

static int
fake_fetch (struct s3_creds_source *src, struct s3_creds_value **out)
{
  struct fake *f = (struct fake *) src;
  unsigned n = __atomic_add_fetch (&f->in_fetch, 1, __ATOMIC_SEQ_CST);
  char id[32];

  if (n > f->max_in_fetch)
    f->max_in_fetch = n;
  if (f->delay_ms)
    usleep (f->delay_ms * 1000);
  n = __atomic_add_fetch (&f->fetches, 1, __ATOMIC_SEQ_CST);
  __atomic_sub_fetch (&f->in_fetch, 1, __ATOMIC_SEQ_CST);
  if (f->fail) {
    nbdkit_error ("fake: failing as asked");
    return -1;
  }
  snprintf (id, sizeof id, "AKID%u", n);
  *out = s3_creds_value_new (id, "secret", "token",
                             f->lifetime ? time (NULL) + f->lifetime : 0);
  return *out ? 0 : -1;
}

static void
fake_free (struct s3_creds_source *src)
{
  (void) src;                   /* static in the test */
}

static struct fake
fake (time_t lifetime)
{
  return (struct fake) {
    .src = { .fetch = fake_fetch, .free = fake_free,
             .name = (char *) "fake", .renewable = true },
    .lifetime = lifetime,
  };
}

START_TEST (test_margin)
{
  ck_assert_int_eq (s3_creds_margin (1000, 1020), 10);
  ck_assert_int_eq (s3_creds_margin (1000, 1000 + 3600), 300);
  ck_assert_int_eq (s3_creds_margin (1000, 1000 + 600), 300);
  ck_assert_int_eq (s3_creds_margin (1000, 1000 + 599), 299);
  ck_assert_int_eq (s3_creds_margin (1000, 900), 0);
}
END_TEST

START_TEST (test_cache_renews)
{
  struct fake f = fake (2);     /* renewal from 1 s before: after 1 s */
  struct s3_creds *c = s3_creds_new (&f.src);
  struct s3_creds_value *v;

  ck_assert_ptr_nonnull (c);
  ck_assert_int_eq (f.fetches, 1);
  v = s3_creds_get (c);
  ck_assert_str_eq (v->access_key, "AKID1");
  s3_creds_value_put (v);
  ck_assert_int_eq (f.fetches, 1);      /* not due yet */
  sleep (2);
  v = s3_creds_get (c);
  ck_assert_str_eq (v->access_key, "AKID2");
  s3_creds_value_put (v);
  ck_assert_int_eq (f.fetches, 2);
  s3_creds_unref (c);
}
END_TEST

START_TEST (test_cache_failed_renewal)
{
  struct fake f = fake (2);
  struct s3_creds *c = s3_creds_new (&f.src);
  struct s3_creds_value *v;

  sleep (1);                    /* due, still valid */
  f.fail = true;
  v = s3_creds_get (c);
  ck_assert_ptr_nonnull (v);    /* the current ones still do */
  ck_assert_str_eq (v->access_key, "AKID1");
  s3_creds_value_put (v);
  ck_assert_int_eq (f.fetches, 2);
  v = s3_creds_get (c);         /* no new try before RETRY_S */
  s3_creds_value_put (v);
  ck_assert_int_eq (f.fetches, 2);
  sleep (2);                    /* expired, and renewal fails */
  ck_assert_ptr_null (s3_creds_get (c));
  s3_creds_unref (c);
}
END_TEST

START_TEST (test_cache_refused)
{
  struct fake f = fake (0);     /* never expires */
  struct s3_creds *c = s3_creds_new (&f.src);
  struct s3_creds_value *v = s3_creds_get (c), *w;

  ck_assert (s3_creds_refused (c, v));
  ck_assert (s3_creds_refused (c, v));  /* twice: still one renewal */
  w = s3_creds_get (c);
  ck_assert_str_eq (w->access_key, "AKID2");
  ck_assert_int_eq (f.fetches, 2);
  /* V is not current any more: a late refusal of it renews nothing. */
  ck_assert (s3_creds_refused (c, v));
  s3_creds_value_put (s3_creds_get (c));
  ck_assert_int_eq (f.fetches, 2);
  s3_creds_value_put (v);
  s3_creds_value_put (w);
  s3_creds_unref (c);
}
END_TEST

START_TEST (test_cache_static)
{
  struct s3_creds *c = s3_creds_new (s3_creds_static ("keys", "A", "S",
                                                      NULL));
  struct s3_creds_value *v = s3_creds_get (c);

  ck_assert_int_eq (v->expiration, 0);
  ck_assert (!s3_creds_refused (c, v));
  ck_assert (!s3_creds_renewable (c));
  s3_creds_value_put (v);
  s3_creds_unref (c);
}
END_TEST

struct getter {
  struct s3_creds *c;
  unsigned gets;
  bool failed;
};

static void *
getter (void *opaque)
{
  struct getter *g = opaque;
  const time_t end = time (NULL) + 3;

  while (time (NULL) < end) {
    struct s3_creds_value *v = s3_creds_get (g->c);

    if (v == NULL || v->expiration <= time (NULL))
      g->failed = true;
    s3_creds_value_put (v);
    g->gets++;
  }
  return NULL;
}

/* Eight threads sign for 3 s with 2-second credentials whose fetch takes
 * 300 ms: renewals happen, one at a time, and nobody ever gets expired
 * credentials or none.
 */
START_TEST (test_cache_threads)
{
  struct fake f = fake (2);
  struct s3_creds *c;
  struct getter g[8];
  pthread_t t[8];

  f.delay_ms = 300;
  c = s3_creds_new (&f.src);
  for (int i = 0; i < 8; ++i) {
    g[i] = (struct getter) { .c = c };
    pthread_create (&t[i], NULL, getter, &g[i]);
  }
  for (int i = 0; i < 8; ++i) {
    pthread_join (t[i], NULL);
    ck_assert (!g[i].failed);
    ck_assert (g[i].gets > 10);
  }
  ck_assert_int_ge (f.fetches, 3);      /* the first and two renewals */
  ck_assert_int_eq (f.max_in_fetch, 1);
  s3_creds_unref (c);
}
END_TEST

Suite *
s3_creds_suite (void)
{
  Suite *s = suite_create ("s3_creds");
  TCase *js = tcase_create ("json");
  TCase *ca = tcase_create ("cache");

  tcase_add_test (js, test_json_nested);
  tcase_add_test (js, test_json_fields);
  tcase_add_loop_test (js, test_json_bad, 0,
                       sizeof bad_json / sizeof bad_json[0]);
  tcase_add_test (js, test_json_not_nul_terminated);
  tcase_add_test (js, test_time);
  tcase_add_test (js, test_value_from_json);
  suite_add_tcase (s, js);

  tcase_add_test (ca, test_margin);
  tcase_add_test (ca, test_cache_renews);
  tcase_add_test (ca, test_cache_failed_renewal);
  tcase_add_test (ca, test_cache_refused);
  tcase_add_test (ca, test_cache_static);
  tcase_add_test (ca, test_cache_threads);
  tcase_set_timeout (ca, 30);
  suite_add_tcase (s, ca);
  return s;
}
