/* SPDX-License-Identifier: MIT
 *
 * Unit tests of clones against the FS store, each in a fresh mkdtemp
 * directory: the chain of a clone (store-chain.c: which layer answers a
 * page, tombstones, writes landing in the top only, a chain of depth 3,
 * a base's pages beyond its size, refused chains) and their creation
 * (store-clone.c: the back-reference, the metadata, the refusals).  A
 * read-only base is made here by rewriting an export's metadata with
 * read-only=true, standing in for a snapshot.
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "s3-config.h"
#include "store.h"
#include "store-chain.h"
#include "store-clone.h"
#include "store-s3.h"
#include "check_suites.h"
#include "nbdkit-stubs.h"

#define PAGE 4096
#define NPAGES 8                /* pages of the exports made here */

static char tmpdir[64];
static struct store *st;

/* tmpdir/data/exports/REL in a static buffer (one at a time). */
static const char *
export_path (const char *rel)
{
  static char buf[512];

  snprintf (buf, sizeof buf, "%s/data/exports/%s", tmpdir, rel);
  return buf;
}

static bool
exists (const char *rel)
{
  struct stat sb;

  return lstat (export_path (rel), &sb) == 0;
}

static void
setup (void)
{
  snprintf (tmpdir, sizeof tmpdir, "/tmp/nbds3-check-chain-XXXXXX");
  ck_assert_ptr_nonnull (mkdtemp (tmpdir));
  stub_reset_errors ();
  {
    char data[128];

    snprintf (data, sizeof data, "%s/data", tmpdir);
    st = store_fs_new (data);
  }
  ck_assert_ptr_nonnull (st);
}

static int
remove_one (const char *path, const struct stat *sb, int flag,
            struct FTW *ftw)
{
  return remove (path);
}

static void
teardown (void)
{
  if (st)
    store_free (st);
  st = NULL;
  nftw (tmpdir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Write META as the metadata of export NAME, by hand (creating its
 * directory): how these tests make snapshots, loops and odd chains.
 */
static void
write_meta_file (const char *name, const struct store_meta *meta)
{
  char text[STORE_META_MAX];
  size_t len = store_meta_format (meta, text);
  char file[STORE_EXPORT_NAME_MAX + 16];
  int fd;

  mkdir (export_path (name), 0755);
  snprintf (file, sizeof file, "%s/" STORE_META_NAME, name);
  fd = open (export_path (file), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ck_assert_int_ge (fd, 0);
  ck_assert_int_eq (write (fd, text, len), (ssize_t) len);
  close (fd);
}

/* Metadata of an export of NPAGES pages, with BASE ("" for none). */
static struct store_meta
meta_of (const char *base, bool read_only)
{
  struct store_meta meta = {
    .version = STORE_META_VERSION, .size = NPAGES * PAGE, .page_size = PAGE,
    .checksums = true, .read_only = read_only,
  };

  snprintf (meta.base, sizeof meta.base, "%s", base);
  return meta;
}

/* Make export NAME read-only: what a snapshot is, to a clone. */
static void
make_read_only (const char *name)
{
  struct store_export *e = store_open_export (st, name);
  struct store_meta meta;

  ck_assert_ptr_nonnull (e);
  ck_assert_int_eq (store_read_meta (e, &meta), 1);
  store_close_export (e);
  meta.read_only = true;
  write_meta_file (name, &meta);
}

/* Open export NAME as the plugin does: through its chain if it has a
 * base.
 */
static struct store_export *
open_served (const char *name)
{
  struct store_export *e = store_open_export (st, name), *c;
  struct store_meta meta;

  ck_assert_ptr_nonnull (e);
  ck_assert_int_eq (store_read_meta (e, &meta), 1);
  if (meta.base[0] == '\0')
    return e;
  c = store_chain_open (st, e, &meta);
  if (c == NULL)
    store_close_export (e);
  return c;
}

/* Create the plain export NAME with the pages of SEEDS ("ab.d": pages 0,
 * 1 and 3, filled with those bytes; '.' for none), and close it.
 */
static void
make_export (const char *name, const char *seeds)
{
  struct store_export *e = store_open_export (st, name);
  struct store_meta meta = meta_of ("", false);
  unsigned char buf[PAGE];

  ck_assert_ptr_nonnull (e);
  ck_assert_int_eq (store_claim (e), 0);
  ck_assert_int_eq (store_write_meta (e, &meta), 0);
  for (uint32_t i = 0; seeds[i]; ++i)
    if (seeds[i] != '.') {
      memset (buf, seeds[i], PAGE);
      ck_assert_int_eq (store_write_page (e, i, buf, PAGE), 0);
    }
  ck_assert_int_eq (store_sync (e), 0);
  store_close_export (e);
}

/* What E reads at PAGE: its fill byte, '.' for not stored (zeros). */
static char
read_seed (struct store_export *e, uint32_t page)
{
  unsigned char buf[PAGE];
  int r = store_read_page (e, page, buf, PAGE);

  ck_assert_int_ge (r, 0);
  if (r == 0)
    return '.';
  for (size_t i = 1; i < PAGE; ++i)
    ck_assert_int_eq (buf[i], buf[0]);
  return buf[0];
}

/* Every page of E as read_seed says, as a string of NPAGES. */
static const char *
read_all (struct store_export *e)
{
  static char s[NPAGES + 1];

  for (uint32_t i = 0; i < NPAGES; ++i)
    s[i] = read_seed (e, i);
  s[NPAGES] = '\0';
  return s;
}

static int
mark_page (void *opaque, uint32_t page)
{
  char *s = opaque;

  ck_assert_uint_lt (page, NPAGES);
  ck_assert_int_eq (s[page], '.');      /* each page once */
  s[page] = 'x';
  return 0;
}

/* The pages E lists: 'x' for listed, '.' for not. */
static const char *
listed (struct store_export *e)
{
  static char s[NPAGES + 1];

  memset (s, '.', NPAGES);
  s[NPAGES] = '\0';
  ck_assert_int_eq (store_list_pages (e, mark_page, s), 0);
  return s;
}

/* The last error names WHAT. */
static void
assert_error_has (const char *what)
{
  char msg[1024];

  stub_last_error (msg, sizeof msg);
  if (strstr (msg, what) == NULL)
    ck_abort_msg ("error \"%s\" lacks \"%s\"", msg, what);
}

static void
write_seed (struct store_export *e, uint32_t page, char seed)
{
  unsigned char buf[PAGE];

  memset (buf, seed, PAGE);
  ck_assert_int_eq (store_write_page (e, page, buf, PAGE), 0);
}

/* Export NAME, served, lists the pages LISTING (listed: NULL to skip)
 * and reads as READS (read_all).
 */
static void
assert_served (const char *name, const char *listing, const char *reads)
{
  struct store_export *e = open_served (name);

  ck_assert_ptr_nonnull (e);
  if (listing)
    ck_assert_str_eq (listed (e), listing);
  ck_assert_str_eq (read_all (e), reads);
  store_close_export (e);
}

/* Change the pages of E as EDITS says, one character per page from page
 * 0: a letter writes the page filled with it, '-' deletes it, '.'
 * leaves it.  Then sync.
 */
static void
edit (struct store_export *e, const char *edits)
{
  for (uint32_t i = 0; edits[i]; ++i)
    if (edits[i] == '-')
      ck_assert_int_eq (store_delete_page (e, i), 0);
    else if (edits[i] != '.')
      write_seed (e, i, edits[i]);
  ck_assert_int_eq (store_sync (e), 0);
}

/* Clone BASE as NAME, change it with EDITS (edit) and make it read-only,
 * a layer of a chain.
 */
static void
make_layer (const char *base, const char *name, const char *edits)
{
  struct store_export *c;

  ck_assert_int_eq (store_clone_create (st, base, name), 0);
  c = open_served (name);
  ck_assert_ptr_nonnull (c);
  ck_assert_int_eq (store_claim (c), 0);
  edit (c, edits);
  store_close_export (c);
  make_read_only (name);
}

START_TEST (test_clone_reads_writes_trims)
{
  struct store_export *c, *b;

  make_export ("base", "abcd");
  make_read_only ("base");
  ck_assert_int_eq (store_clone_create (st, "base", "c1"), 0);
  ck_assert_int_eq (store_clone_create (st, "base", "c2"), 0);
  ck_assert (exists ("base/clones/c1"));

  /* Until written, the clone reads as its base. */
  assert_served ("c1", "xxxx....", "abcd....");
  c = open_served ("c1");

  /* Writes and deletes land in the clone. */
  ck_assert_int_eq (store_claim (c), 0);
  edit (c, ".B....G");
  edit (c, "..-...-");          /* the base's page, the clone's own */
  ck_assert (exists ("c1/page-00000002.zero"));
  ck_assert (!exists ("c1/page-00000006.zero"));
  ck_assert (!exists ("c1/page-00000006.bin"));
  ck_assert_str_eq (listed (c), "xx.x....");
  ck_assert_str_eq (read_all (c), "aB.d....");
  store_close_export (c);

  /* The tombstone is durable, and is no page of the clone itself. */
  c = open_served ("c1");
  ck_assert_str_eq (listed (c), "xx.x....");
  ck_assert_str_eq (read_all (c), "aB.d....");
  /* Deleting the clone's page over a base page leaves a tombstone. */
  ck_assert_int_eq (store_claim (c), 0);
  ck_assert_int_eq (store_delete_page (c, 1), 0);
  ck_assert (exists ("c1/page-00000001.zero"));
  ck_assert (!exists ("c1/page-00000001.bin"));
  ck_assert_str_eq (read_all (c), "a..d....");
  /* A write over a tombstone removes it. */
  write_seed (c, 2, 'Z');
  ck_assert (!exists ("c1/page-00000002.zero"));
  ck_assert_str_eq (read_all (c), "a.Zd....");
  store_close_export (c);
  b = store_open_export (st, "c1");
  ck_assert_str_eq (listed (b), "..x.....");
  store_close_export (b);

  /* The base and the other clone are as they were. */
  assert_served ("base", "xxxx....", "abcd....");
  assert_served ("c2", "xxxx....", "abcd....");
}
END_TEST

/* base -> c1 -> c2 -> c3, each writing and trimming other pages. */
START_TEST (test_chain_of_depth_3)
{
  struct store_export *c;

  make_export ("base", "abcd");
  make_read_only ("base");
  make_layer ("base", "c1", ".P-.Q");
  make_layer ("c1", "c2", ".-R..S");    /* over c1's page and tombstone */
  ck_assert_int_eq (store_clone_create (st, "c2", "c3"), 0);
  c = open_served ("c3");
  ck_assert_int_eq (store_claim (c), 0);
  edit (c, "T");
  ck_assert_str_eq (listed (c), "x.xxxx..");
  ck_assert_str_eq (read_all (c), "T.RdQS..");
  store_close_export (c);
  assert_served ("c3", "x.xxxx..", "T.RdQS..");
  assert_served ("c2", "x.xxxx..", "a.RdQS..");
  assert_served ("c1", "xx.xx...", "aP.dQ...");
}
END_TEST

/* A failed write of a base's page may or may not have landed: the page
 * reads from the clone if it did, else still from the base.
 */
START_TEST (test_failed_write_reads_through)
{
  struct store_export *c;
  unsigned char buf[PAGE];

  make_export ("base", "abcd");
  make_read_only ("base");
  ck_assert_int_eq (store_clone_create (st, "base", "c1"), 0);
  c = open_served ("c1");
  memset (buf, 'X', PAGE);
  ck_assert_int_eq (store_write_page (c, 1, buf, PAGE), -1);  /* unclaimed */
  ck_assert_str_eq (read_all (c), "abcd....");
  ck_assert_int_eq (store_claim (c), 0);
  edit (c, ".Y");
  ck_assert_str_eq (read_all (c), "aYcd....");
  store_close_export (c);
}
END_TEST

/* The clone's guard released and taken again after another process
 * wrote the clone: the chain lists it anew.
 */
START_TEST (test_claim_again_lists_anew)
{
  struct store_export *c, *other;
  struct store *st2;

  make_export ("base", "abc");
  make_read_only ("base");
  ck_assert_int_eq (store_clone_create (st, "base", "c1"), 0);
  c = open_served ("c1");
  ck_assert_int_eq (store_claim (c), 0);
  edit (c, "A-");
  ck_assert (store_unclaim (c));

  st2 = store_fs_new (export_path ("../"));
  ck_assert_ptr_nonnull (st2);
  other = store_open_export (st2, "c1");
  ck_assert_int_eq (store_claim (other), 0);
  write_seed (other, 5, 'F');
  ck_assert_int_eq (store_delete_page (other, 0), 0);
  ck_assert_int_eq (store_remove_tombstone (other, 1), 0);
  ck_assert_int_eq (store_put_tombstone (other, 2), 0);
  store_close_export (other);
  store_free (st2);

  ck_assert_int_eq (store_claim (c), 1);
  ck_assert_str_eq (listed (c), "xx...x..");
  ck_assert_str_eq (read_all (c), "ab...F..");
  store_close_export (c);
}
END_TEST

/* The chain's guard is its top's: a snapshot holder asks it before it
 * answers (store-snap.c), so an unclaimed clone is no holder.
 */
START_TEST (test_chain_guard_is_the_top)
{
  struct store_export *c;

  make_export ("base", "ab");
  make_read_only ("base");
  ck_assert_int_eq (store_clone_create (st, "base", "c1"), 0);
  c = open_served ("c1");
  ck_assert_int_eq (store_check_guard (c), -1);
  ck_assert_int_eq (store_claim (c), 0);
  ck_assert_int_eq (store_check_guard (c), 0);
  store_close_export (c);
}
END_TEST

/* A base's pages at or beyond its size read as zeros through a larger
 * clone.
 */
START_TEST (test_pages_beyond_a_base)
{
  struct store_meta meta = meta_of ("", true);

  make_export ("base", "ab....g");
  meta.size = 2 * PAGE + 1;     /* three pages: 0 to 2 */
  write_meta_file ("base", &meta);
  ck_assert_int_eq (store_clone_create (st, "base", "c1"), 0);
  meta = meta_of ("base", false);
  write_meta_file ("c1", &meta);        /* grown to NPAGES */
  assert_served ("c1", "xx......", "ab......");
}
END_TEST

/* open_served fails: ERRNO, and the error names WHAT. */
static void
assert_refused (const char *name, int err, const char *what)
{
  ck_assert_ptr_null (open_served (name));
  ck_assert_int_eq (errno, err);
  assert_error_has (what);
}

START_TEST (test_chains_refused)
{
  struct store_meta meta = meta_of ("", false);
  char name[16], below[16];

  /* A base that is not read-only, or missing. */
  write_meta_file ("plain", &meta);
  meta = meta_of ("plain", false);
  write_meta_file ("c1", &meta);
  assert_refused ("c1", EINVAL, "is not read-only");
  meta = meta_of ("gone", false);
  write_meta_file ("c2", &meta);
  assert_refused ("c2", ENOENT, "does not exist");

  /* Another page size. */
  meta = meta_of ("", true);
  meta.page_size = 2 * PAGE;
  write_meta_file ("big", &meta);
  meta = meta_of ("big", false);
  write_meta_file ("c3", &meta);
  assert_refused ("c3", EINVAL, "page size");

  /* A loop: x -> y -> x. */
  meta = meta_of ("y", true);
  write_meta_file ("x", &meta);
  meta = meta_of ("x", true);
  write_meta_file ("y", &meta);
  meta = meta_of ("x", false);
  write_meta_file ("c4", &meta);
  assert_refused ("c4", ELOOP, "loops");

  /* Deeper than STORE_CHAIN_MAX: l0 (bottom) ... l16, and the top. */
  meta = meta_of ("", true);
  write_meta_file ("l0", &meta);
  for (int i = 1; i <= STORE_CHAIN_MAX - 1; ++i) {
    snprintf (name, sizeof name, "l%d", i);
    snprintf (below, sizeof below, "l%d", i - 1);
    meta = meta_of (below, true);
    write_meta_file (name, &meta);
  }
  meta = meta_of ("l14", false);        /* 16 layers with l0..l14 */
  write_meta_file ("deep", &meta);
  store_close_export (open_served ("deep"));
  meta = meta_of ("l15", false);        /* 17 */
  write_meta_file ("deeper", &meta);
  assert_refused ("deeper", ELOOP, "deeper than 16");
}
END_TEST

/* store_clone_create fails with ERR, and the error names WHAT. */
static void
assert_clone_refused (const char *base, const char *name, int err,
                      const char *what)
{
  ck_assert_int_eq (store_clone_create (st, base, name), -1);
  ck_assert_int_eq (errno, err);
  assert_error_has (what);
}

START_TEST (test_clone_create)
{
  struct store_export *e;
  struct store_meta meta;
  int fd;

  make_export ("base", "ab");
  assert_clone_refused ("base", "c1", EINVAL, "not read-only");
  assert_clone_refused ("nothing", "c1", ENOENT, "no such export");
  make_read_only ("base");
  assert_clone_refused ("base", "base", EINVAL, "as itself");
  assert_clone_refused ("base", ".x", EINVAL, "not a valid export name");
  ck_assert (!exists ("base/clones"));

  ck_assert_int_eq (store_clone_create (st, "base", "c1"), 0);
  e = store_open_export (st, "c1");
  ck_assert_int_eq (store_read_meta (e, &meta), 1);
  ck_assert_str_eq (meta.base, "base");
  ck_assert_uint_eq (meta.size, NPAGES * PAGE);
  ck_assert_uint_eq (meta.page_size, PAGE);
  ck_assert (meta.checksums);
  ck_assert (!meta.read_only);
  store_close_export (e);
  ck_assert (exists ("base/clones/c1"));
  /* O(1): no page of the base was copied. */
  ck_assert (!exists ("c1/page-00000000.bin"));
  assert_clone_refused ("base", "c1", EEXIST, "exists");
  assert_clone_refused ("base", "base", EINVAL, "as itself");

  /* A back-reference of that name already (another tool creating it). */
  ck_assert_int_eq (mkdir (export_path ("c2"), 0755), 0);
  e = store_open_export (st, "base");
  ck_assert_int_eq (store_put_object (e, "clones/c2", "", 0, true), 0);
  assert_clone_refused ("base", "c2", EEXIST, "already has a clone");
  ck_assert_int_eq (store_remove_object (e, "clones/c2"), 0);
  store_close_export (e);

  /* The metadata cannot be written (another process holds c2's lock):
   * the back-reference goes again.
   */
  fd = open (export_path ("c2"), O_RDONLY | O_DIRECTORY);
  ck_assert_int_ge (fd, 0);
  ck_assert_int_eq (flock (fd, LOCK_EX), 0);
  assert_clone_refused ("base", "c2", EBUSY, "in use");
  close (fd);
  ck_assert (!exists ("base/clones/c2"));
  ck_assert (!exists ("c2/" STORE_META_NAME));
  ck_assert_int_eq (store_clone_create (st, "base", "c2"), 0);
}
END_TEST

/* Tombstones are mutations: without the guard, neither store writes
 * or removes one (the S3 store sends no request: its server is not even
 * there).
 */
START_TEST (test_tombstones_need_the_guard)
{
  struct s3_config cfg = {
    .endpoint = (char *) "http://127.0.0.1:9", .bucket = (char *) "bkt",
    .region = (char *) "us-east-1", .access_key = (char *) "AKID",
    .secret_key = (char *) "secret", .connect_timeout = 1,
    .request_timeout = 1, .retry_deadline = 1, .connections = 2,
    .lease_timeout = 30,
  };
  struct store *s3;
  struct store_export *e;

  make_export ("plain", "a");
  e = store_open_export (st, "plain");
  ck_assert_int_eq (store_put_tombstone (e, 1), -1);
  assert_error_has ("written before it was claimed");
  ck_assert_int_eq (store_remove_tombstone (e, 1), -1);
  ck_assert (!exists ("plain/page-00000001.zero"));
  ck_assert_int_eq (store_claim (e), 0);
  ck_assert_int_eq (store_put_tombstone (e, 1), 0);
  ck_assert (exists ("plain/page-00000001.zero"));
  ck_assert_str_eq (listed (e), "x.......");    /* no page */
  ck_assert_int_eq (store_remove_tombstone (e, 1), 0);
  ck_assert (!exists ("plain/page-00000001.zero"));
  store_close_export (e);

  s3 = store_s3_new (&cfg);
  ck_assert_ptr_nonnull (s3);
  e = store_open_export (s3, "x");
  ck_assert_int_eq (store_put_tombstone (e, 1), -1);
  assert_error_has ("before this server took its lease");
  ck_assert_int_eq (store_remove_tombstone (e, 1), -1);
  assert_error_has ("before this server took its lease");
  store_close_export (e);
  store_free (s3);
}
END_TEST

Suite *
chain_suite (void)
{
  Suite *s = suite_create ("chain");
  TCase *tc = tcase_create ("chain");

  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_clone_reads_writes_trims);
  tcase_add_test (tc, test_chain_of_depth_3);
  tcase_add_test (tc, test_pages_beyond_a_base);
  tcase_add_test (tc, test_claim_again_lists_anew);
  tcase_add_test (tc, test_chain_guard_is_the_top);
  tcase_add_test (tc, test_failed_write_reads_through);
  tcase_add_test (tc, test_chains_refused);
  tcase_add_test (tc, test_clone_create);
  tcase_add_test (tc, test_tombstones_need_the_guard);
  suite_add_tcase (s, tc);
  return s;
}
