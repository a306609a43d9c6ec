/* SPDX-License-Identifier: MIT
 *
 * Unit tests of all-zero pages in the page cache, against the memstore:
 * a page that is all zeros at write-back is stored as absent.  Zeros
 * written into a hole cost no request; zeros over a stored page delete
 * it; either way the page is a hole in reads, extents and the counters.
 * A page with one non-zero byte, even its last, is written.  A failed
 * delete stays dirty, a FUA write of zeros is absent on return, and data
 * written while the delete is in flight is written after it.
 */

#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <check.h>

#include "check_cache.h"
#include "check_suites.h"
#include "memstore.h"
#include "pagecache.h"

/* Pages [FIRST, FIRST + N) are one extent, DATA or a hole. */
static void
assert_extent (uint32_t first, uint32_t n, bool data)
{
  struct extent got[4], *next = got;

  ck_assert_int_eq (pagecache_extents (ex, n * PS, (uint64_t) first * PS,
                                       collect_extent, &next), 0);
  ck_assert_int_eq (next - got, 1);
  ck_assert_msg (got[0].data == data, "pages %u+%u: data %d", first, n,
                 got[0].data);
  ck_assert_uint_eq (got[0].length, (uint64_t) n * PS);
}

static void
assert_reads_zeros (uint32_t page)
{
  char buf[PS], zero[PS] = { 0 };

  memset (buf, 'x', PS);
  ck_assert_int_eq (pagecache_read (ex, buf, PS, (uint64_t) page * PS), 0);
  ck_assert_mem_eq (buf, zero, PS);
}

/* Start the cache with page PAGE stored, all C, and BUF filled with C. */
static void
start_with_stored_page (uint32_t page, char c, char *buf)
{
  start_store_only ();
  fill (buf, c);
  memstore_put (ms, page, buf);
  open_existing (16, 2);
}

START_TEST (test_zeros_into_a_hole_cost_nothing)
{
  char zero[PS] = { 0 };
  struct pagecache_stats st;

  start_cache (16, 2, 5, true);
  ck_assert_int_eq (pagecache_write (ex, zero, PS, 3 * PS, false), 0);
  ck_assert_int_eq (pagecache_write (ex, zero, PS / 2, 5 * PS, false), 0);
  ck_assert_int_eq (pagecache_write (ex, zero, PS / 2, 5 * PS + PS / 2,
                                     false), 0);
  ck_assert_int_eq (pagecache_flush (ex), 0);
  ck_assert_str_eq (memstore_log (ms), "");
  ck_assert_uint_eq (memstore_count (ms, MS_WRITE), 0);
  ck_assert_uint_eq (memstore_count (ms, MS_DELETE), 0);
  pagecache_get_stats (&st);
  ck_assert_uint_eq (st.puts, 0);
  ck_assert_uint_eq (st.deletes, 0);
  ck_assert_uint_eq (st.zero_pages, 2);
  ck_assert_uint_eq (st.cached_pages, 0);       /* a hole costs no memory */
  assert_extent (0, 64, false);
  assert_reads_zeros (3);
  assert_reads_zeros (5);
  stop_cache ();
}
END_TEST

START_TEST (test_zeros_over_a_stored_page_delete_it)
{
  char buf[PS], zero[PS] = { 0 };
  struct pagecache_stats st;

  start_with_stored_page (2, 'a', buf);
  ck_assert_int_eq (pagecache_write (ex, buf, PS, 4 * PS, false), 0);
  ck_assert_int_eq (pagecache_flush (ex), 0);
  assert_extent (4, 1, true);
  ck_assert_int_eq (pagecache_write (ex, zero, PS, 2 * PS, false), 0);
  ck_assert_int_eq (pagecache_write (ex, zero, 100, 4 * PS + 7, false), 0);
  ck_assert_int_eq (pagecache_write (ex, zero, PS, 4 * PS, false), 0);
  ck_assert_int_eq (pagecache_flush (ex), 0);
  /* Whole pages are queued at once: the two DELETEs race. */
  ck_assert_msg (strcmp (memstore_log (ms), "W4 D2 D4") == 0 ||
                 strcmp (memstore_log (ms), "W4 D4 D2") == 0,
                 "log %s", memstore_log (ms));
  ck_assert (!memstore_get (ms, 2, buf));
  ck_assert (!memstore_get (ms, 4, buf));
  pagecache_get_stats (&st);
  ck_assert_uint_eq (st.puts, 1);
  ck_assert_uint_eq (st.deletes, 2);
  ck_assert_uint_eq (st.zero_pages, 2);
  assert_extent (0, 64, false);
  assert_reads_zeros (2);
  assert_reads_zeros (4);
  stop_cache ();
}
END_TEST

START_TEST (test_one_nonzero_byte_is_written)
{
  char buf[PS] = { 0 };

  start_cache (16, 2, 5, true);
  buf[PS - 1] = 1;
  ck_assert_int_eq (pagecache_write (ex, buf, PS, 6 * PS, false), 0);
  buf[PS - 1] = 0;
  buf[0] = 1;
  ck_assert_int_eq (pagecache_write (ex, buf, 1, 7 * PS, false), 0);
  ck_assert_int_eq (pagecache_flush (ex), 0);
  ck_assert (memstore_get (ms, 6, buf));
  ck_assert_int_eq (buf[PS - 1], 1);
  ck_assert (memstore_get (ms, 7, buf));
  ck_assert_int_eq (buf[0], 1);
  assert_extent (6, 2, true);
  stop_cache ();
}
END_TEST

START_TEST (test_failed_delete_stays_dirty)
{
  char buf[PS], zero[PS] = { 0 };
  struct pagecache_stats st;

  start_with_stored_page (1, 'd', buf);
  memstore_fail (ms, MS_DELETE, EIO);
  ck_assert_int_eq (pagecache_write (ex, zero, PS, PS, false), 0);
  ck_assert_int_eq (pagecache_flush (ex), -1);
  assert_stored (1, 'd');
  assert_reads_zeros (1);
  pagecache_get_stats (&st);
  ck_assert_uint_eq (st.dirty_pages, 1);
  ck_assert_uint_eq (st.deletes, 0);
  memstore_fail (ms, MS_DELETE, 0);
  ck_assert_int_eq (pagecache_flush (ex), 0);
  ck_assert (!memstore_get (ms, 1, buf));
  assert_extent (1, 1, false);
  stop_cache ();
}
END_TEST

START_TEST (test_fua_zeros_are_absent_on_return)
{
  char buf[PS], zero[PS] = { 0 };

  start_with_stored_page (9, 'f', buf);
  ck_assert_int_eq (pagecache_write (ex, zero, PS, 9 * PS, true), 0);
  ck_assert (!memstore_get (ms, 9, buf));
  ck_assert_str_eq (memstore_log (ms), "D9");
  stop_cache ();
}
END_TEST

START_TEST (test_write_during_the_delete_is_kept)
{
  pthread_t t;
  char buf[PS], zero[PS] = { 0 };
  void *r;

  start_with_stored_page (2, 's', buf);
  memstore_gate (ms, true);     /* a whole page is queued at once */
  ck_assert_int_eq (pagecache_write (ex, zero, PS, 2 * PS, false), 0);
  pthread_create (&t, NULL, flush_thread, NULL);
  wait_for_gate (1);            /* the DELETE is in flight */
  memset (buf, 'n', 10);
  ck_assert_int_eq (pagecache_write (ex, buf, 10, 2 * PS + 5, false), 0);
  memstore_gate (ms, false);
  pthread_join (t, &r);
  ck_assert_int_eq ((intptr_t) r, 0);
  assert_extent (2, 1, true);   /* the new data, not a hole */
  ck_assert_int_eq (pagecache_flush (ex), 0);
  ck_assert_str_eq (memstore_log (ms), "D2 W2");
  ck_assert (memstore_get (ms, 2, buf));
  for (unsigned i = 0; i < PS; ++i)
    ck_assert_int_eq (buf[i], i >= 5 && i < 15 ? 'n' : 0);
  assert_extent (2, 1, true);
  stop_cache ();
}
END_TEST

Suite *
zero_pages_suite (void)
{
  Suite *s = suite_create ("zero_pages");
  TCase *tc = tcase_create ("write-back");

  tcase_add_test (tc, test_zeros_into_a_hole_cost_nothing);
  tcase_add_test (tc, test_zeros_over_a_stored_page_delete_it);
  tcase_add_test (tc, test_one_nonzero_byte_is_written);
  tcase_add_test (tc, test_failed_delete_stays_dirty);
  tcase_add_test (tc, test_fua_zeros_are_absent_on_return);
  tcase_add_test (tc, test_write_during_the_delete_is_kept);
  suite_add_tcase (s, tc);
  return s;
}
