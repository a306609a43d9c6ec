/* SPDX-License-Identifier: MIT
 *
 * The page cache's unit-test fixture (check_cache.h): the cache on a
 * memstore, its export, and the helpers the cache's tests share.
 */

#include <config.h>

#include <stdint.h>
#include <string.h>
#include <time.h>

#include <check.h>

#include "check_cache.h"

struct memstore *ms;
struct store_export *sx;
struct pc_export *ex;
const char *stats_file;

void
open_cache (uint64_t budget_pages, unsigned connections,
            unsigned wait_timeout, bool exists)
{
  struct pagecache_config cc = {
    .page_size = PS, .budget = budget_pages * PS,
    .connections = connections, .wait_timeout = wait_timeout,
    .shutdown_timeout = 5, .stats_file = stats_file,
  };
  struct store *s = memstore_store (ms);

  ck_assert_int_eq (pagecache_init (&cc), 0);
  ck_assert_int_eq (pagecache_start (), 0);
  sx = store_open_export (s, "e");
  ck_assert_ptr_nonnull (sx);
  ex = pagecache_open_export (sx, "e", 64 * PS, PS, exists);
  ck_assert_ptr_nonnull (ex);
}

void
close_export (void)
{
  pagecache_close_export (ex);
  store_close_export (sx);
}

void
start_store_only (void)
{
  ms = memstore_new (PS);
}

void
open_existing (uint64_t budget_pages, unsigned connections)
{
  open_cache (budget_pages, connections, 5, true);
}

void
start_cache (uint64_t budget_pages, unsigned connections,
             unsigned wait_timeout, bool exists)
{
  start_store_only ();
  open_cache (budget_pages, connections, wait_timeout, exists);
}

void
stop_cache (void)
{
  pagecache_shutdown ();
  close_export ();
  pagecache_free ();
  memstore_free (ms);
}

void
fill (char *buf, char c)
{
  memset (buf, c, PS);
}

void
sleep_ms (unsigned ms_)
{
  struct timespec ts = { ms_ / 1000, (ms_ % 1000) * 1000000L };
  nanosleep (&ts, NULL);
}

void
assert_stored (uint32_t page, char c)
{
  char buf[PS], want[PS];

  fill (want, c);
  ck_assert_msg (memstore_get (ms, page, buf), "page %u not stored", page);
  ck_assert_msg (memcmp (buf, want, PS) == 0, "page %u: wrong data", page);
}

void *
flush_thread (void *arg)
{
  return (void *) (intptr_t) pagecache_flush (ex);
}

void
wait_for_gate (unsigned n)
{
  for (int i = 0; i < 500 && memstore_gate_waiters (ms) < n; ++i)
    sleep_ms (10);
  ck_assert_uint_eq (memstore_gate_waiters (ms), n);
}

int
collect_extent (void *opaque, uint64_t offset, uint64_t length, bool data)
{
  struct extent **e = opaque;

  (*e)->offset = offset;
  (*e)->length = length;
  (*e)->data = data;
  (*e)++;
  return 0;
}
