/* SPDX-License-Identifier: MIT
 *
 * Unit tests of the sizing rule of requests in flight (inflight.c) and
 * of the cache following it: requests are the byte target over the page
 * size, capped by connections (auto: 64), at least one; the read reserve
 * is a quarter of them, at least one; read-ahead reaches the byte target
 * but at most twice what the requests carry, at least one page per
 * request; the cache that config_complete asks for holds them.  On the
 * memstore, the cache keeps exactly the planned number of writes in
 * flight.
 */

#include <config.h>

#include <pthread.h>
#include <stdint.h>

#include <check.h>

#include "check_cache.h"
#include "check_suites.h"
#include "inflight.h"

#define KiB UINT64_C (1024)
#define MiB (KiB * 1024)

static struct inflight_plan
plan (uint64_t page, uint64_t budget, uint64_t target, unsigned cap)
{
  struct inflight_plan p;

  inflight_plan (page, budget, target, cap, &p);
  return p;
}

START_TEST (test_large_pages_get_few_requests)
{
  struct inflight_plan p = plan (4 * MiB, 256 * MiB, 0, 0);

  ck_assert_uint_eq (p.target_bytes, 64 * MiB);    /* a quarter */
  ck_assert_uint_eq (p.requests, 16);
  ck_assert_uint_eq (p.read_reserve, 4);
  ck_assert_uint_eq (p.readahead_pages, 16);
}
END_TEST

START_TEST (test_small_pages_get_many_requests)
{
  struct inflight_plan p = plan (128 * KiB, 256 * MiB, 0, 0);

  ck_assert_uint_eq (p.requests, INFLIGHT_AUTO_CAP);
  ck_assert_uint_eq (p.read_reserve, 16);
  /* Twice what 64 requests carry: 16 MiB, not the 64 MiB target. */
  ck_assert_uint_eq (p.readahead_pages, 128);
}
END_TEST

START_TEST (test_connections_cap_requests)
{
  struct inflight_plan p = plan (128 * KiB, 256 * MiB, 0, 8);

  ck_assert_uint_eq (p.requests, 8);
  ck_assert_uint_eq (p.read_reserve, 2);
  ck_assert_uint_eq (p.readahead_pages, 16);
  /* An explicit cap above 64 is kept when the bytes allow it. */
  p = plan (4 * KiB, 256 * MiB, 1 * MiB, 256);
  ck_assert_uint_eq (p.requests, 256);
}
END_TEST

START_TEST (test_explicit_target)
{
  struct inflight_plan p = plan (64 * KiB, 256 * MiB, 1 * MiB, 0);

  ck_assert_uint_eq (p.target_bytes, 1 * MiB);
  ck_assert_uint_eq (p.requests, 16);
  ck_assert_uint_eq (p.readahead_pages, 16);       /* the target */
  /* A target that is not a whole number of pages rounds down. */
  p = plan (4 * MiB, 1024 * MiB, 10 * MiB, 0);
  ck_assert_uint_eq (p.requests, 2);
  ck_assert_uint_eq (p.read_reserve, 1);
}
END_TEST

START_TEST (test_tiny_cache_gets_one_request)
{
  struct inflight_plan p = plan (4 * MiB, 24 * MiB, 0, 0);

  ck_assert_uint_eq (p.requests, 1);
  ck_assert_uint_eq (p.read_reserve, 1);
  ck_assert_uint_eq (p.readahead_pages, 1);
  ck_assert_uint_eq (inflight_min_cache (4 * MiB, 1), 24 * MiB);
  ck_assert_uint_eq (inflight_min_cache (128 * KiB, 64), 132 * 128 * KiB);
}
END_TEST

/* For every page size and every cache of at least six pages, the
 * default plan fits in the cache that config_complete asks for, and its
 * bytes in flight stay within the target (a quarter of the cache).
 */
START_TEST (test_default_plan_fits_every_cache)
{
  for (uint64_t page = 4 * KiB; page <= 64 * MiB; page *= 2)
    for (uint64_t budget = 6 * page; budget <= 4096 * MiB;
         budget += budget / 3 + page) {
      struct inflight_plan p = plan (page, budget, 0, 0);

      ck_assert_uint_ge (budget, inflight_min_cache (page, p.requests));
      ck_assert (p.requests == 1 || p.requests * page <= budget / 4);
      ck_assert_uint_ge (p.read_reserve, 1);
      ck_assert_uint_le (p.read_reserve, p.requests);
      ck_assert_uint_ge (p.readahead_pages, p.requests);
      ck_assert_uint_le (p.readahead_pages * page,
                         p.requests == 1 ? page : budget / 4);
    }
}
END_TEST

/* The cache runs as many writes at once as the plan says: a quarter of
 * 64 pages, 16 with auto (twice the old default of 8), 4 with
 * connections=4.
 */
static void
check_writes_in_flight (unsigned connections, unsigned expect)
{
  pthread_t t;
  char buf[PS];
  void *r;

  start_cache (64, connections, 5, true);
  fill (buf, 'i');
  memstore_gate (ms, true);
  for (uint32_t i = 0; i < 40; ++i)
    ck_assert_int_eq (pagecache_write (ex, buf, PS, i * PS, false), 0);
  pthread_create (&t, NULL, flush_thread, NULL);
  wait_for_gate (expect);
  sleep_ms (100);               /* no more come */
  ck_assert_uint_eq (memstore_gate_waiters (ms), expect);
  memstore_gate (ms, false);
  pthread_join (t, &r);
  ck_assert_int_eq ((intptr_t) r, 0);
  ck_assert_uint_eq (memstore_count (ms, MS_WRITE), 40);
  stop_cache ();
}

START_TEST (test_cache_follows_the_plan)
{
  check_writes_in_flight (0, 16);
  check_writes_in_flight (4, 4);
}
END_TEST

Suite *
inflight_suite (void)
{
  Suite *s = suite_create ("inflight");
  TCase *tc = tcase_create ("sizing");

  tcase_set_timeout (tc, 30);
  tcase_add_test (tc, test_large_pages_get_few_requests);
  tcase_add_test (tc, test_small_pages_get_many_requests);
  tcase_add_test (tc, test_connections_cap_requests);
  tcase_add_test (tc, test_explicit_target);
  tcase_add_test (tc, test_tiny_cache_gets_one_request);
  tcase_add_test (tc, test_default_plan_fits_every_cache);
  tcase_add_test (tc, test_cache_follows_the_plan);
  suite_add_tcase (s, tc);
  return s;
}
