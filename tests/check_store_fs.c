/* SPDX-License-Identifier: MIT
 *
 * Unit tests of the filesystem page store (store-fs.c), each in a fresh
 * mkdtemp directory under /tmp that the fixtures remove: page round trips, page
 * listing, metadata, export listing, damaged files, the flock guard, write
 * failures and ready().
 */

#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "store.h"
#include "check_suites.h"
#include "nbdkit-stubs.h"
#include "check_tmpdir.h"

#define PAGE 4096

static char topdir[64];         /* this test case's directory */
static char tmpdir[128];        /* this test's directory, inside topdir */
static struct store *st;        /* a store on tmpdir/data */

/* tmpdir/REL in a static buffer (one at a time). */
static const char *
path (const char *rel)
{
  return check_path (tmpdir, rel);
}

static void
put_file (const char *rel, const void *data, size_t len)
{
  int fd = open (path (rel), O_WRONLY | O_CREAT | O_TRUNC, 0644);

  ck_assert_int_ge (fd, 0);
  ck_assert_int_eq (write (fd, data, len), (ssize_t) len);
  close (fd);
}

static size_t
count_entries (const char *rel)
{
  DIR *d = opendir (path (rel));
  size_t n = 0;
  struct dirent *ent;

  ck_assert_ptr_nonnull (d);
  while ((ent = readdir (d)) != NULL)
    if (strcmp (ent->d_name, ".") != 0 && strcmp (ent->d_name, "..") != 0)
      n++;
  closedir (d);
  return n;
}

static bool
exists (const char *rel)
{
  struct stat sb;

  return lstat (path (rel), &sb) == 0;
}

/* Does the last nbdkit_error contain NEEDLE? */
static bool
error_has (const char *needle)
{
  char msg[4096];

  stub_last_error (msg, sizeof msg);
  if (strstr (msg, needle) == NULL) {
    fprintf (stderr, "error \"%s\" lacks \"%s\"\n", msg, needle);
    return false;
  }
  return true;
}

static void
fill (unsigned char *buf, unsigned seed)
{
  for (size_t i = 0; i < PAGE; ++i)
    buf[i] = (unsigned char) (seed * 31 + i * 7);
}

static const struct store_meta meta4k = {
  .version = STORE_META_VERSION, .size = 1 << 20, .page_size = PAGE,
};

/* Open export NAME and create it with meta4k. */
static struct store_export *
create_export (struct store *s, const char *name)
{
  struct store_export *e = store_open_export (s, name);

  ck_assert_ptr_nonnull (e);
  ck_assert_int_eq (store_write_meta (e, &meta4k), 0);
  return e;
}

static void
setup (void)
{
  snprintf (tmpdir, sizeof tmpdir, "%s/test-XXXXXX", topdir);
  ck_assert_ptr_nonnull (mkdtemp (tmpdir));
  stub_reset_errors ();
  st = store_fs_new (path ("data"));
  ck_assert_ptr_nonnull (st);
}

static void
teardown (void)
{
  if (st)
    store_free (st);
  st = NULL;
  check_remove_tree (tmpdir);
}

/* The test directories live in one directory that the unchecked fixture
 * (run outside the forked tests) removes even after a failed test.
 */
static void
setup_top (void)
{
  snprintf (topdir, sizeof topdir, "/tmp/nbds3-check-fs-XXXXXX");
  ck_assert_ptr_nonnull (mkdtemp (topdir));
}

static void
teardown_top (void)
{
  check_remove_tree (topdir);
}

START_TEST (test_new_creates_dirs)
{
  struct store *s2;
  struct stat sb;

  ck_assert_int_eq (stat (path ("data/exports"), &sb), 0);
  ck_assert (S_ISDIR (sb.st_mode));
  ck_assert_int_eq (store_ready (st), 0);
  ck_assert_uint_eq (count_entries ("data/exports"), 0);   /* no probe */
  ck_assert_str_eq (store_name (st), "fs");

  s2 = store_fs_new (path ("x/y/z"));
  ck_assert_ptr_nonnull (s2);
  ck_assert (exists ("x/y/z/exports"));
  store_free (s2);

  /* A path under a regular file cannot be created. */
  put_file ("file", "x", 1);
  ck_assert_ptr_null (store_fs_new (path ("file/sub")));
  ck_assert (error_has (path ("file/sub")));
  ck_assert (error_has ("Not a directory"));
}
END_TEST

START_TEST (test_ready_not_a_directory)
{
  struct store *s2;

  ck_assert_int_eq (mkdir (path ("d"), 0755), 0);
  put_file ("d/exports", "x", 1);
  s2 = store_fs_new (path ("d"));
  ck_assert_ptr_nonnull (s2);   /* the constructor leaves checks to ready */
  stub_reset_errors ();
  ck_assert_int_eq (store_ready (s2), -1);
  ck_assert_uint_eq (stub_error_count (), 1);
  ck_assert (error_has (path ("d/exports")));
  ck_assert (error_has ("not a writable directory"));
  store_free (s2);
}
END_TEST

START_TEST (test_pages_round_trip)
{
  static const uint32_t pages[] = { 0, 1, 7, 0xdeadbeef };
  unsigned char in[PAGE], out[PAGE];
  struct store_export *e = create_export (st, "disk");
  struct stat sb;

  for (size_t i = 0; i < 4; ++i) {
    fill (in, i);
    ck_assert_int_eq (store_write_page (e, pages[i], in, PAGE), 0);
  }
  for (size_t i = 0; i < 4; ++i) {
    fill (in, i);
    memset (out, 0, PAGE);
    ck_assert_int_eq (store_read_page (e, pages[i], out, PAGE), 1);
    ck_assert_mem_eq (in, out, PAGE);
  }
  ck_assert_int_eq (stat (path ("data/exports/disk/page-deadbeef.bin"), &sb),
                    0);
  ck_assert_int_eq (sb.st_size, PAGE);

  /* Overwrite. */
  fill (in, 99);
  ck_assert_int_eq (store_write_page (e, 7, in, PAGE), 0);
  ck_assert_int_eq (store_read_page (e, 7, out, PAGE), 1);
  ck_assert_mem_eq (in, out, PAGE);

  /* A page never written: 0 and the buffer untouched. */
  memset (out, 0xaa, PAGE);
  memset (in, 0xaa, PAGE);
  ck_assert_int_eq (store_read_page (e, 2, out, PAGE), 0);
  ck_assert_mem_eq (in, out, PAGE);

  /* Delete, then it is not stored; deleting a missing page succeeds. */
  ck_assert_int_eq (store_delete_page (e, 1), 0);
  ck_assert_int_eq (store_read_page (e, 1, out, PAGE), 0);
  ck_assert_mem_eq (in, out, PAGE);
  ck_assert (!exists ("data/exports/disk/page-00000001.bin"));
  ck_assert_int_eq (store_delete_page (e, 1), 0);
  ck_assert_int_eq (store_delete_page (e, 12345), 0);
  store_close_export (e);
}
END_TEST

struct pages_seen {
  uint32_t pages[16];
  size_t n;
};

static int
collect_page (void *opaque, uint32_t page)
{
  struct pages_seen *seen = opaque;

  ck_assert_uint_lt (seen->n, 16);
  seen->pages[seen->n++] = page;
  return 0;
}

static int
cmp_u32 (const void *a, const void *b)
{
  uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;

  return x < y ? -1 : x > y;
}

static int
stop_page (void *opaque, uint32_t page)
{
  return -1;
}

START_TEST (test_list_pages)
{
  unsigned char buf[PAGE] = { 1 };
  struct store_export *e = create_export (st, "disk");
  struct pages_seen seen = { .n = 0 };

  ck_assert_int_eq (store_write_page (e, 3, buf, PAGE), 0);
  ck_assert_int_eq (store_write_page (e, 0x10, buf, PAGE), 0);
  ck_assert_int_eq (store_write_page (e, 9, buf, PAGE), 0);
  put_file ("data/exports/disk/.page-00000001.bin.tmp.abc", "x", 1);
  put_file ("data/exports/disk/junk", "x", 1);
  put_file ("data/exports/disk/page-0000000g.bin", "x", 1);
  put_file ("data/exports/disk/page-00000002.bin.tmp", "x", 1);

  ck_assert_int_eq (store_list_pages (e, collect_page, &seen), 0);
  ck_assert_uint_eq (seen.n, 3);
  qsort (seen.pages, seen.n, sizeof seen.pages[0], cmp_u32);
  ck_assert_uint_eq (seen.pages[0], 3);
  ck_assert_uint_eq (seen.pages[1], 9);
  ck_assert_uint_eq (seen.pages[2], 0x10);

  /* FN returning -1 stops the listing. */
  ck_assert_int_eq (store_list_pages (e, stop_page, NULL), -1);

  /* A new, empty export lists nothing. */
  seen.n = 0;
  store_close_export (e);
  e = store_open_export (st, "other");
  ck_assert_ptr_nonnull (e);
  ck_assert_int_eq (store_list_pages (e, collect_page, &seen), 0);
  ck_assert_uint_eq (seen.n, 0);
  store_close_export (e);
}
END_TEST

START_TEST (test_stale_temps_removed)
{
  struct store_export *e = create_export (st, "disk");

  store_close_export (e);
  put_file ("data/exports/disk/.page-00000001.bin.tmp.123.4", "x", 1);
  put_file ("data/exports/disk/.nbds3.meta.tmp.123.5", "x", 1);
  put_file ("data/exports/disk/junk", "x", 1);
  e = store_open_export (st, "disk");
  ck_assert_ptr_nonnull (e);
  /* A reader (nbdkit -r) leaves them: they may be a writer's. */
  ck_assert (exists ("data/exports/disk/.page-00000001.bin.tmp.123.4"));
  ck_assert_int_eq (store_claim (e), 0);
  ck_assert (!exists ("data/exports/disk/.page-00000001.bin.tmp.123.4"));
  ck_assert (!exists ("data/exports/disk/.nbds3.meta.tmp.123.5"));
  ck_assert (exists ("data/exports/disk/junk"));
  ck_assert (exists ("data/exports/disk/nbds3.meta"));
  store_close_export (e);
}
END_TEST

START_TEST (test_meta)
{
  struct store_meta m = { 0 };
  struct store_export *e = store_open_export (st, "new");
  unsigned char buf[PAGE] = { 0 };

  /* Opening and probing a new export leaves no trace. */
  ck_assert_ptr_nonnull (e);
  ck_assert_int_eq (store_read_meta (e, &m), 0);
  ck_assert_int_eq (store_read_page (e, 0, buf, PAGE), 0);
  ck_assert_int_eq (store_delete_page (e, 0), 0);
  ck_assert (!exists ("data/exports/new"));

  ck_assert_int_eq (store_write_meta (e, &meta4k), 0);
  ck_assert (exists ("data/exports/new/nbds3.meta"));
  ck_assert_int_eq (store_read_meta (e, &m), 1);
  ck_assert_uint_eq (m.version, meta4k.version);
  ck_assert_uint_eq (m.size, meta4k.size);
  ck_assert_uint_eq (m.page_size, meta4k.page_size);
  store_close_export (e);

  /* It survives reopening. */
  memset (&m, 0, sizeof m);
  e = store_open_export (st, "new");
  ck_assert_ptr_nonnull (e);
  ck_assert_int_eq (store_read_meta (e, &m), 1);
  ck_assert_uint_eq (m.size, meta4k.size);
  store_close_export (e);

  /* Damaged metadata is an error naming the file. */
  put_file ("data/exports/new/nbds3.meta", "version=1\nsize=oops\n", 20);
  e = store_open_export (st, "new");
  ck_assert_ptr_nonnull (e);
  stub_reset_errors ();
  ck_assert_int_eq (store_read_meta (e, &m), -1);
  ck_assert_uint_eq (stub_error_count (), 1);
  ck_assert (error_has (path ("data/exports/new/nbds3.meta")));
  store_close_export (e);

  /* An export directory without metadata: 0. */
  ck_assert_int_eq (mkdir (path ("data/exports/bare"), 0755), 0);
  e = store_open_export (st, "bare");
  ck_assert_ptr_nonnull (e);
  ck_assert_int_eq (store_read_meta (e, &m), 0);
  ck_assert_int_eq (store_write_meta (e, &meta4k), 0);
  ck_assert_int_eq (store_read_meta (e, &m), 1);
  store_close_export (e);
}
END_TEST

struct names_seen {
  char names[8][32];
  size_t n;
};

static int
collect_name (void *opaque, const char *name)
{
  struct names_seen *seen = opaque;

  ck_assert_uint_lt (seen->n, 8);
  snprintf (seen->names[seen->n++], 32, "%s", name);
  return 0;
}

static int
cmp_str (const void *a, const void *b)
{
  return strcmp (a, b);
}

START_TEST (test_list_exports)
{
  struct names_seen seen = { .n = 0 };
  struct store *s2;

  /* Nothing yet. */
  ck_assert_int_eq (store_list_exports (st, collect_name, &seen), 0);
  ck_assert_uint_eq (seen.n, 0);

  store_close_export (create_export (st, "a"));
  store_close_export (create_export (st, "c d"));
  ck_assert_int_eq (mkdir (path ("data/exports/b"), 0755), 0);
  ck_assert_int_eq (mkdir (path ("data/exports/.x"), 0755), 0);
  put_file ("data/exports/.x/nbds3.meta", "x", 1);
  put_file ("data/exports/file", "x", 1);

  ck_assert_int_eq (store_list_exports (st, collect_name, &seen), 0);
  ck_assert_uint_eq (seen.n, 2);
  qsort (seen.names, seen.n, sizeof seen.names[0], cmp_str);
  ck_assert_str_eq (seen.names[0], "a");
  ck_assert_str_eq (seen.names[1], "c d");

  /* A missing exports directory is an empty list. */
  s2 = store_fs_new (path ("other"));
  ck_assert_ptr_nonnull (s2);
  ck_assert_int_eq (rmdir (path ("other/exports")), 0);
  seen.n = 0;
  ck_assert_int_eq (store_list_exports (s2, collect_name, &seen), 0);
  ck_assert_uint_eq (seen.n, 0);
  store_free (s2);
}
END_TEST

START_TEST (test_page_wrong_size)
{
  struct store_export *e = create_export (st, "disk");
  unsigned char buf[PAGE];

  put_file ("data/exports/disk/page-00000002.bin", "short", 5);
  stub_reset_errors ();
  errno = 0;
  ck_assert_int_eq (store_read_page (e, 2, buf, PAGE), -1);
  ck_assert_int_eq (errno, EIO);
  ck_assert_uint_eq (stub_error_count (), 1);
  ck_assert (error_has (path ("data/exports/disk/page-00000002.bin")));
  ck_assert (error_has ("is 5 bytes, expected 4096"));

  /* Too long is as wrong as too short. */
  ck_assert_int_eq (store_read_page (e, 2, buf, 4), -1);
  ck_assert (error_has ("is 5 bytes, expected 4"));
  store_close_export (e);
}
END_TEST

START_TEST (test_flock_semantics)
{
  /* The guard relies on this: flock locks belong to the open file
   * description, so a second open() in the same process conflicts.
   */
  int fd1, fd2;

  fd1 = open (tmpdir, O_RDONLY | O_DIRECTORY);
  fd2 = open (tmpdir, O_RDONLY | O_DIRECTORY);
  ck_assert_int_ge (fd1, 0);
  ck_assert_int_ge (fd2, 0);
  ck_assert_int_eq (flock (fd1, LOCK_EX | LOCK_NB), 0);
  ck_assert_int_eq (flock (fd2, LOCK_EX | LOCK_NB), -1);
  ck_assert_int_eq (errno, EWOULDBLOCK);
  close (fd1);
  ck_assert_int_eq (flock (fd2, LOCK_EX | LOCK_NB), 0);
  close (fd2);
}
END_TEST

START_TEST (test_lock_existing)
{
  struct store_export *e1 = create_export (st, "locked"), *e2;
  struct store_meta m;
  char buf[4096];

  /* A second opener reads, but cannot claim (write) the export. */
  e2 = store_open_export (st, "locked");
  ck_assert_ptr_nonnull (e2);
  ck_assert_int_eq (store_read_meta (e2, &m), 1);
  stub_reset_errors ();
  ck_assert_int_eq (store_claim (e2), -1);
  ck_assert_uint_eq (stub_error_count (), 1);
  ck_assert (error_has ("export 'locked' is in use"));
  ck_assert (error_has (path ("data/exports/locked")));
  memset (buf, 'x', sizeof buf);
  ck_assert_int_eq (store_write_page (e2, 0, buf, sizeof buf), -1);
  ck_assert (error_has ("written before it was claimed"));

  /* A listing descriptor must not release the guard. */
  ck_assert_int_eq (store_list_pages (e1, stop_page, NULL), 0);
  ck_assert_int_eq (store_claim (e2), -1);

  store_close_export (e1);
  ck_assert_int_eq (store_claim (e2), 0);
  ck_assert_int_eq (store_write_page (e2, 0, buf, sizeof buf), 0);
  store_close_export (e2);
}
END_TEST

START_TEST (test_unclaim)
{
  struct store *s2 = store_fs_new (path ("data"));
  struct store_export *e1 = create_export (st, "idle"), *e2;
  char buf[4096];

  ck_assert_ptr_nonnull (s2);
  memset (buf, 'u', sizeof buf);
  /* Released: another process claims and writes the export. */
  ck_assert (store_unclaim (e1));
  ck_assert (!store_unclaim (e1));              /* nothing to release */
  e2 = store_open_export (s2, "idle");
  ck_assert_ptr_nonnull (e2);
  ck_assert_int_eq (store_claim (e2), 0);
  ck_assert_int_eq (store_write_page (e2, 2, buf, sizeof buf), 0);
  ck_assert_int_eq (store_claim (e1), -1);      /* e2 holds it */
  store_close_export (e2);
  /* Taken again after a change: 1, forget the cache. */
  ck_assert_int_eq (store_claim (e1), 1);
  ck_assert_int_eq (store_write_page (e1, 3, buf, sizeof buf), 0);
  /* Taken again with no change meanwhile: 0. */
  ck_assert (store_unclaim (e1));
  ck_assert_int_eq (store_claim (e1), 0);
  store_close_export (e1);
  store_free (s2);
}
END_TEST

START_TEST (test_lock_late)
{
  struct store *s2 = store_fs_new (path ("data"));
  struct store_export *e1, *e2;
  struct store_meta m;

  ck_assert_ptr_nonnull (s2);
  e1 = store_open_export (st, "late");
  ck_assert_ptr_nonnull (e1);
  e2 = create_export (s2, "late");

  stub_reset_errors ();
  ck_assert_int_eq (store_write_meta (e1, &meta4k), -1);
  ck_assert (error_has ("export 'late' is in use"));

  /* Even once the other writer is gone, E1's view is stale: refused. */
  store_close_export (e2);
  ck_assert_int_eq (store_write_meta (e1, &meta4k), -1);
  ck_assert (error_has ("export 'late' was created by another process"));
  ck_assert_int_eq (store_read_meta (e1, &m), 0);
  store_close_export (e1);

  /* Freshly opened, it is found, and the guard was released. */
  e1 = store_open_export (st, "late");
  ck_assert_ptr_nonnull (e1);
  ck_assert_int_eq (store_read_meta (e1, &m), 1);
  store_close_export (e1);
  store_free (s2);
}
END_TEST

/* Named objects: exclusive create, replace, read, list (one level of
 * subdirectories), remove; and nothing on an export that does not exist.
 */
struct seen { int clones, meta, holder, other; uint64_t clone_size; };

static int
count_object (void *opaque, const char *name, uint64_t size)
{
  struct seen *seen = opaque;

  if (strcmp (name, "clones/c1") == 0) {
    seen->clones++;
    seen->clone_size = size;
  }
  else if (strcmp (name, STORE_META_NAME) == 0)
    seen->meta++;
  else if (strcmp (name, STORE_HOLDER_NAME) == 0)
    seen->holder++;
  else
    seen->other++;
  return 0;
}

START_TEST (test_named_objects)
{
  struct store_export *e = store_open_export (st, "none");
  struct seen seen = { 0 };
  char buf[16];
  size_t len;

  ck_assert_int_eq (store_get_object (e, "x", buf, sizeof buf, &len), 0);
  /* A put creates the export's directory, as a put works on S3. */
  ck_assert_int_eq (store_put_object (e, "x", "a", 1, false), 0);
  ck_assert_int_eq (store_get_object (e, "x", buf, sizeof buf, &len), 1);
  store_close_export (e);

  e = create_export (st, "base");
  ck_assert_int_eq (store_put_object (e, "clones/c1", "one", 3, true), 0);
  ck_assert_int_eq (store_put_object (e, "clones/c1", "two", 3, true), -1);
  ck_assert_int_eq (errno, EEXIST);
  ck_assert_int_eq (store_get_object (e, "clones/c1", buf, sizeof buf, &len),
                    1);
  ck_assert_uint_eq (len, 3);
  ck_assert (memcmp (buf, "one", 3) == 0);
  ck_assert_int_eq (store_put_object (e, "clones/c1", "three", 5, false), 0);
  ck_assert_int_eq (store_get_object (e, "clones/c1", buf, 4, &len), -1);
  ck_assert_int_eq (store_list_objects (e, count_object, &seen), 0);
  ck_assert_int_eq (seen.clones, 1);
  ck_assert_uint_eq (seen.clone_size, 5);
  ck_assert_int_eq (seen.meta, 1);
  ck_assert_int_eq (seen.holder, 1);    /* E holds the guard */
  ck_assert_int_eq (seen.other, 0);     /* no temporary file left */
  ck_assert_int_eq (store_put_object (e, "../x", "a", 1, false), -1);
  ck_assert_int_eq (errno, EINVAL);
  ck_assert_int_eq (store_remove_object (e, "clones/c1"), 0);
  ck_assert_int_eq (store_remove_object (e, "clones/c1"), 0);
  ck_assert (!exists ("data/exports/base/clones/c1"));
  store_close_export (e);
}
END_TEST

/* The tool's methods: who holds the guard (the holder file comes and
 * goes with the lock), replacing the metadata, removing objects and
 * the export itself.
 */
START_TEST (test_tool_methods)
{
  struct store_export *e = create_export (st, "tool"), *e2;
  const char *const names[] = { "page-00000000.bin", "clones/c1", "gone" };
  unsigned char buf[PAGE] = { 1 };
  struct store_meta m = meta4k;
  char holder[256];

  ck_assert_int_eq (store_guard_holder (e, holder, sizeof holder), 1);
  ck_assert (strstr (holder, " since ") != NULL);
  e2 = store_open_export (st, "tool");
  ck_assert_int_eq (store_guard_holder (e2, holder, sizeof holder), 1);
  ck_assert (strstr (holder, " since ") != NULL);
  /* Only E2's descriptor may test the lock: E's claim still works. */
  ck_assert_int_eq (store_claim (e2), -1);
  ck_assert_int_eq (errno, EBUSY);

  m.size = 3 * PAGE;
  ck_assert_int_eq (store_replace_meta (e2, &m), -1);   /* not claimed */
  ck_assert_int_eq (store_replace_meta (e, &m), 0);
  ck_assert_int_eq (store_read_meta (e2, &m), 1);
  ck_assert_uint_eq (m.size, 3 * PAGE);

  ck_assert_int_eq (store_write_page (e, 0, buf, PAGE), 0);
  ck_assert_int_eq (store_put_object (e, "clones/c1", "x", 1, true), 0);
  ck_assert_int_eq (store_remove_objects (e2, names, 3), -1);
  ck_assert_int_eq (store_remove_objects (e, names, 3), 0);
  ck_assert (!exists ("data/exports/tool/page-00000000.bin"));
  ck_assert (!exists ("data/exports/tool/clones/c1"));
  ck_assert_int_eq (store_read_page (e, 0, buf, PAGE), 0);

  /* A file left behind stops the removal, after the metadata. */
  ck_assert_int_eq (store_put_object (e, "late", "x", 1, false), 0);
  ck_assert_int_eq (store_remove_export (e), -1);
  ck_assert_int_eq (errno, ENOTEMPTY);
  ck_assert (!exists ("data/exports/tool/" STORE_META_NAME));
  ck_assert_int_eq (store_remove_object (e, "late"), 0);
  ck_assert_int_eq (store_remove_export (e), 0);
  ck_assert (!exists ("data/exports/tool"));
  store_close_export (e);
  store_close_export (e2);

  /* Released: free, and no holder file is left. */
  e = create_export (st, "tool2");
  store_close_export (e);
  ck_assert (!exists ("data/exports/tool2/" STORE_HOLDER_NAME));
  e = store_open_export (st, "tool2");
  ck_assert_int_eq (store_guard_holder (e, holder, sizeof holder), 0);
  ck_assert_int_eq (store_claim (e), 0);        /* the test let go of it */
  store_close_export (e);
}
END_TEST

START_TEST (test_write_failure)
{
  struct store_export *e = create_export (st, "disk");
  unsigned char buf[PAGE] = { 0 };
  struct dirent *ent;
  DIR *d;

  /* Root ignores permission bits, so make the rename fail instead. */
  ck_assert_int_eq (mkdir (path ("data/exports/disk/page-00000004.bin"),
                           0755), 0);
  stub_reset_errors ();
  errno = 0;
  ck_assert_int_eq (store_write_page (e, 4, buf, PAGE), -1);
  ck_assert_int_ne (errno, 0);
  ck_assert_uint_eq (stub_error_count (), 1);
  ck_assert (error_has (path ("data/exports/disk/page-00000004.bin")));
  ck_assert (error_has (strerror (EISDIR)));

  /* No temporary file is left behind. */
  d = opendir (path ("data/exports/disk"));
  ck_assert_ptr_nonnull (d);
  while ((ent = readdir (d)) != NULL)
    ck_assert_msg (strstr (ent->d_name, ".tmp.") == NULL,
                   "left behind: %s", ent->d_name);
  closedir (d);

  /* The directory is not a page, and reading it is an error. */
  {
    struct pages_seen seen = { .n = 0 };

    ck_assert_int_eq (store_list_pages (e, collect_page, &seen), 0);
    ck_assert_uint_eq (seen.n, 0);
    ck_assert_int_eq (store_read_page (e, 4, buf, PAGE), -1);
  }
  store_close_export (e);
}
END_TEST

START_TEST (test_write_before_meta)
{
  struct store_export *e = store_open_export (st, "nometa");
  unsigned char buf[PAGE] = { 0 };

  ck_assert_ptr_nonnull (e);
  stub_reset_errors ();
  ck_assert_int_eq (store_write_page (e, 0, buf, PAGE), -1);
  ck_assert_uint_eq (stub_error_count (), 1);
  ck_assert (!exists ("data/exports/nometa"));
  store_close_export (e);
}
END_TEST

struct reader {
  struct store_export *e;
  int bad;
};

static void *
reader_thread (void *arg)
{
  struct reader *r = arg;
  unsigned char want[PAGE], got[PAGE];

  for (unsigned i = 0; i < 200; ++i) {
    uint32_t page = i % 4;

    fill (want, page);
    if (store_read_page (r->e, page, got, PAGE) != 1 ||
        memcmp (want, got, PAGE) != 0)
      r->bad++;
  }
  return NULL;
}

START_TEST (test_concurrent_reads)
{
  struct store_export *e = create_export (st, "disk");
  unsigned char buf[PAGE];
  struct reader readers[4];
  pthread_t threads[4];

  for (uint32_t p = 0; p < 4; ++p) {
    fill (buf, p);
    ck_assert_int_eq (store_write_page (e, p, buf, PAGE), 0);
  }
  for (int i = 0; i < 4; ++i) {
    readers[i] = (struct reader) { .e = e, .bad = 0 };
    ck_assert_int_eq (pthread_create (&threads[i], NULL, reader_thread,
                                      &readers[i]), 0);
  }
  /* Rewrite other pages meanwhile. */
  for (uint32_t p = 10; p < 20; ++p)
    ck_assert_int_eq (store_write_page (e, p, buf, PAGE), 0);
  for (int i = 0; i < 4; ++i) {
    pthread_join (threads[i], NULL);
    ck_assert_int_eq (readers[i].bad, 0);
  }
  store_close_export (e);
}
END_TEST

Suite *
store_fs_suite (void)
{
  Suite *s = suite_create ("store-fs");
  TCase *tc = tcase_create ("fs");

  tcase_add_unchecked_fixture (tc, setup_top, teardown_top);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_new_creates_dirs);
  tcase_add_test (tc, test_ready_not_a_directory);
  tcase_add_test (tc, test_pages_round_trip);
  tcase_add_test (tc, test_list_pages);
  tcase_add_test (tc, test_stale_temps_removed);
  tcase_add_test (tc, test_meta);
  tcase_add_test (tc, test_list_exports);
  tcase_add_test (tc, test_page_wrong_size);
  tcase_add_test (tc, test_flock_semantics);
  tcase_add_test (tc, test_lock_existing);
  tcase_add_test (tc, test_unclaim);
  tcase_add_test (tc, test_lock_late);
  tcase_add_test (tc, test_named_objects);
  tcase_add_test (tc, test_tool_methods);
  tcase_add_test (tc, test_write_failure);
  tcase_add_test (tc, test_write_before_meta);
  tcase_add_test (tc, test_concurrent_reads);
  suite_add_tcase (s, tc);
  return s;
}
