/* SPDX-License-Identifier: MIT
 *
 * Unit tests of snapshots without a server: the CopyObject answer parser
 * (s3-xml.c) and the Content-Length header (s3-headers.c) the copy check
 * needs; the point record's text (store-snap-point.c); and, on an FS store
 * in a mkdtemp directory, store_snap_take of a quiescent export and the
 * holder side's copy-before-write (store-snap.c), driven by hand.
 */

#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "s3-http.h"
#include "s3-xml.h"
#include "store.h"
#include "store-snap.h"
#include "store-snap-point.h"
#include "check_suites.h"
#include "nbdkit-stubs.h"
#include "check_tmpdir.h"

#define PAGE 4096

static char tmpdir[64];
static struct store *st;

/* ---- S3 answers ---- */

START_TEST (test_copy_result)
{
  static const char ok[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<CopyObjectResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<LastModified>2026-12-01T10:00:00.000Z</LastModified>"
    "<ETag>&quot;0123456789abcdef0123456789abcdef&quot;</ETag>"
    "</CopyObjectResult>";
  static const char error[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<Error><Code>InternalError</Code><Message>We encountered an internal "
    "error.</Message><RequestId>r1</RequestId></Error>";
  static const char no_etag[] = "<CopyObjectResult></CopyObjectResult>";
  char etag[S3_XML_ETAG_MAX];
  struct s3_error err;

  s3_xml_init ();
  ck_assert_int_eq (s3_xml_parse_copy_result (ok, strlen (ok), etag, &err),
                    0);
  ck_assert_str_eq (etag, "\"0123456789abcdef0123456789abcdef\"");
  /* 200 with an Error body is a failure. */
  ck_assert_int_eq (s3_xml_parse_copy_result (error, strlen (error), etag,
                                              &err), -1);
  ck_assert_str_eq (err.code, "InternalError");
  ck_assert_int_eq (s3_xml_parse_copy_result (no_etag, strlen (no_etag),
                                              etag, &err), -1);
  ck_assert_str_eq (err.code, "");
  ck_assert_int_eq (s3_xml_parse_copy_result ("", 0, etag, &err), -1);
  ck_assert_int_eq (s3_xml_parse_copy_result ("<Error/>", 8, etag, &err),
                    -1);
  ck_assert_str_eq (err.code, "Error");
}
END_TEST

START_TEST (test_content_length)
{
  static const struct {
    const char *line;
    int64_t want;
  } cases[] = {
    { "Content-Length: 65536\r\n", 65536 },
    { "content-length:0\r\n", 0 },
    { "Content-Length:  12 \r\n", 12 },
    { "Content-Length: 12x\r\n", -1 },
    { "Content-Length: \r\n", -1 },
    { "Content-Length: 99999999999999999999\r\n", -1 },
  };

  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    struct s3_http_response resp = { .content_length = -2 };

    s3_http_header_line (&resp, cases[i].line, strlen (cases[i].line));
    ck_assert_msg (resp.content_length == cases[i].want, "%s: %" PRId64,
                   cases[i].line, resp.content_length);
  }
}
END_TEST

/* ---- FS fixtures ---- */

static const char *
path (const char *rel)
{
  return check_path (tmpdir, rel);
}

static void
setup (void)
{
  snprintf (tmpdir, sizeof tmpdir, "/tmp/nbds3-check-snap-XXXXXX");
  ck_assert_ptr_nonnull (mkdtemp (tmpdir));
  stub_reset_errors ();
  st = store_fs_new (path ("data"));
  ck_assert_ptr_nonnull (st);
}

static void
teardown (void)
{
  store_free (st);
  check_remove_tree (tmpdir);
}

static const struct store_meta meta4k = {
  .version = STORE_META_VERSION_PLAIN, .size = 16 * PAGE, .page_size = PAGE,
  .checksums = true,
};

/* Export NAME with pages 0..N-1, page I filled with SEED + I.  Open. */
static struct store_export *
make_export (const char *name, unsigned n, unsigned char seed)
{
  struct store_export *e = store_open_export (st, name);
  unsigned char buf[PAGE];

  ck_assert_ptr_nonnull (e);
  ck_assert_int_eq (store_write_meta (e, &meta4k), 0);
  for (unsigned i = 0; i < n; ++i) {
    memset (buf, seed + i, sizeof buf);
    ck_assert_int_eq (store_write_page (e, i, buf, PAGE), 0);
  }
  ck_assert_int_eq (store_sync (e), 0);
  return e;
}

/* Does page PAGE of export NAME hold bytes BYTE? */
static bool
page_is (const char *name, uint32_t page, unsigned char byte)
{
  struct store_export *e = store_open_export (st, name);
  unsigned char buf[PAGE], want[PAGE];
  int r;

  ck_assert_ptr_nonnull (e);
  r = store_read_page (e, page, buf, PAGE);
  store_close_export (e);
  memset (want, byte, sizeof want);
  return r == 1 && memcmp (buf, want, PAGE) == 0;
}

/* ---- The point record ---- */

START_TEST (test_point_round_trip)
{
  struct store_export *e = make_export ("p", 3, 'a');
  struct snap_request req, got;
  struct snap_point pt, back;

  ck_assert_int_eq (snap_request_new ("p-snap", &req), 0);
  ck_assert_uint_eq (strlen (req.id), SNAP_ID_LEN);
  ck_assert_int_eq (snap_request_put (e, &req), 0);
  ck_assert_int_eq (snap_request_put (e, &req), -1);
  ck_assert_int_eq (errno, EEXIST);
  ck_assert_int_eq (snap_request_get (e, &got), 1);
  ck_assert_str_eq (got.id, req.id);
  ck_assert_str_eq (got.name, "p-snap");

  ck_assert_int_eq (snap_point_record (e, &req, false, &pt), 0);
  ck_assert_uint_eq (pt.nentries, 3);
  pt.point_ms = 7;
  ck_assert_int_eq (snap_point_put (e, &pt), 0);
  ck_assert_int_eq (snap_point_get (e, 16, &back), 1);
  ck_assert_str_eq (back.req.id, req.id);
  ck_assert_int_eq (back.point_ms, 7);
  ck_assert_uint_eq (back.nentries, 3);
  for (uint32_t i = 0; i < 3; ++i) {
    ck_assert_uint_eq (back.entries[i].page, i);
    ck_assert (!back.entries[i].tombstone);
    ck_assert_uint_gt (strlen (back.entries[i].version), 0);  /* inode */
  }
  ck_assert_ptr_eq (snap_point_find (&back, 1), &back.entries[1]);
  ck_assert_ptr_null (snap_point_find (&back, 5));
  snap_point_free (&pt);
  snap_point_free (&back);

  /* A damaged record is an error, never an empty point. */
  ck_assert_int_eq (store_put_object (e, STORE_SNAP_POINT, "nbds3-snap", 10,
                                      false), 0);
  ck_assert_int_eq (snap_point_get (e, 16, &back), -1);
  /* sscanf's "\n" matches the end of the text too: a record that ends
   * after "entries=0" is damaged, not read past its end.
   */
  static const char cut[] = "nbds3-snappoint 1\nid=0123456789abcdef0123456789abcdef\n"
    "snapshot=p-snap\npoint-ms=1\nentries=0";
  ck_assert_int_eq (store_put_object (e, STORE_SNAP_POINT, cut,
                                      sizeof cut - 1, false), 0);
  ck_assert_int_eq (snap_point_get (e, 16, &back), -1);
  store_close_export (e);
}
END_TEST

/* FS: a page counts as copied only as the point's version (its inode):
 * not a later one, nor another left in the snapshot by an interrupted
 * run or a holder still armed for an older request.
 */
START_TEST (test_copy_version)
{
  struct store_export *e = make_export ("v", 2, 'a');
  struct store_export *dst = store_open_export (st, "v1");
  struct snap_request req;
  struct snap_point pt;
  unsigned char buf[PAGE];
  char v0[SNAP_VERSION_MAX], v1[SNAP_VERSION_MAX], from[512];

  ck_assert_int_eq (snap_request_new ("v1", &req), 0);
  ck_assert_int_eq (snap_point_record (e, &req, false, &pt), 0);
  strcpy (v0, pt.entries[0].version);
  strcpy (v1, pt.entries[1].version);
  snap_point_free (&pt);
  /* Page 0 rewritten after the point: its link is a later version. */
  memset (buf, 'z', sizeof buf);
  ck_assert_int_eq (store_write_page (e, 0, buf, PAGE), 0);
  ck_assert_int_eq (store_copy_object (e, "page-00000000.bin", v0, PAGE, dst),
                    0);
  ck_assert (access (path ("data/exports/v1/page-00000000.bin"), F_OK) != 0);
  /* Page 1 as at the point: copied, and once there it counts. */
  ck_assert_int_eq (store_copy_object (e, "page-00000001.bin", v1, PAGE, dst),
                    1);
  ck_assert_int_eq (store_copy_object (e, "page-00000001.bin", v1, PAGE, dst),
                    2);
  /* Another version already in the snapshot does not count. */
  snprintf (from, sizeof from, "%s", path ("data/exports/v/page-00000000.bin"));
  ck_assert_int_eq (link (from, path ("data/exports/v1/page-00000000.bin")), 0);
  ck_assert_int_eq (store_copy_object (e, "page-00000000.bin", v0, PAGE, dst),
                    0);
  store_close_export (dst);
  store_close_export (e);
}
END_TEST

/* A claim with no request reads no point record: its buffer would be
 * sized for every page of the export (here 2^31 pages).
 */
START_TEST (test_claim_huge_export)
{
  struct store_meta huge = meta4k;
  struct store_export *e = store_open_export (st, "huge");

  huge.size = (uint64_t) PAGE << 31;
  ck_assert_int_eq (store_write_meta (e, &huge), 0);
  store_close_export (e);
  store_snap_serve (60000);
  e = store_open_export (st, "huge");
  ck_assert_int_eq (store_read_meta (e, &huge), 1);
  ck_assert_int_eq (store_claim (e), 0);
  store_close_export (e);
}
END_TEST

/* ---- The tool side, no server ---- */

START_TEST (test_take_quiescent)
{
  struct store_export *e = make_export ("q", 4, 'a');
  struct store_snap_report rep;
  struct store_meta m;
  struct store_export *s;
  unsigned char buf[PAGE];

  store_close_export (e);
  ck_assert_int_eq (store_snap_take (st, "q", "q1", 1000, false, &rep), 0);
  ck_assert (!rep.holder);
  ck_assert_uint_eq (rep.pages, 4);
  ck_assert_uint_eq (rep.copied_by_tool, 4);
  s = store_open_export (st, "q1");
  ck_assert_int_eq (store_read_meta (s, &m), 1);
  ck_assert (m.read_only);
  ck_assert (m.checksums);
  ck_assert_str_eq (m.snapshot_of, "q");
  ck_assert_uint_eq (m.size, meta4k.size);
  store_close_export (s);

  /* Rewriting the export leaves the snapshot alone. */
  e = store_open_export (st, "q");
  ck_assert_int_eq (store_claim (e), 0);
  memset (buf, 'z', sizeof buf);
  ck_assert_int_eq (store_write_page (e, 2, buf, PAGE), 0);
  ck_assert_int_eq (store_delete_page (e, 3), 0);
  store_close_export (e);
  ck_assert (page_is ("q1", 2, 'c'));
  ck_assert (page_is ("q1", 3, 'd'));
  ck_assert (page_is ("q", 2, 'z'));

  /* Refusals. */
  ck_assert_int_eq (store_snap_take (st, "q", "q1", 1000, false, &rep), -1);
  ck_assert_int_eq (errno, EEXIST);
  ck_assert_int_eq (store_snap_take (st, "nope", "q2", 1000, false, &rep), -1);
  ck_assert_int_eq (errno, ENOENT);
  ck_assert_int_eq (store_snap_take (st, "q", "q", 1000, false, &rep), -1);
  ck_assert_int_eq (errno, EINVAL);
}
END_TEST

/* What an interrupted snapshot left under NAME (no metadata) is removed
 * first, never taken for a copy of the point's pages.
 */
START_TEST (test_take_removes_leftovers)
{
  struct store_export *e = make_export ("l", 2, 'a');
  struct store_snap_report rep;
  char from[512];

  store_close_export (e);
  ck_assert_int_eq (mkdir (path ("data/exports/l1"), 0777), 0);
  snprintf (from, sizeof from, "%s", path ("data/exports/l/page-00000000.bin"));
  ck_assert_int_eq (link (from, path ("data/exports/l1/page-00000001.bin")),
                    0);
  ck_assert_int_eq (store_snap_take (st, "l", "l1", 1000, false, &rep), 0);
  ck_assert (page_is ("l1", 1, 'b'));
}
END_TEST

/* A snapshot of a clone keeps its base and copies its tombstones. */
START_TEST (test_take_clone)
{
  struct store_meta clone = meta4k;
  struct store_export *e = store_open_export (st, "c");
  struct store_snap_report rep;
  struct store_meta m;
  unsigned char buf[PAGE];

  store_close_export (make_export ("gold", 0, 'g'));
  clone.version = STORE_META_VERSION;
  snprintf (clone.base, sizeof clone.base, "gold");
  ck_assert_int_eq (store_write_meta (e, &clone), 0);
  memset (buf, 'a', sizeof buf);
  ck_assert_int_eq (store_write_page (e, 1, buf, PAGE), 0);
  ck_assert_int_eq (store_put_object (e, "page-00000003.zero", "", 0, false),
                    0);
  store_close_export (e);
  ck_assert_int_eq (store_snap_take (st, "c", "c1", 1000, false, &rep), 0);
  ck_assert_uint_eq (rep.pages, 1);
  ck_assert_uint_eq (rep.tombstones, 1);
  ck_assert (access (path ("data/exports/c1/page-00000003.zero"), F_OK) == 0);
  /* The base knows the snapshot reads from it. */
  ck_assert (access (path ("data/exports/gold/clones/c1"), F_OK) == 0);
  e = store_open_export (st, "c1");
  ck_assert_int_eq (store_read_meta (e, &m), 1);
  ck_assert_str_eq (m.base, "gold");
  ck_assert_str_eq (m.snapshot_of, "c");
  store_close_export (e);
}
END_TEST

/* A holder that does not answer: the tool gives up after its timeout
 * and withdraws its request.
 */
START_TEST (test_take_no_answer)
{
  struct store_export *e = make_export ("n", 1, 'a');
  struct store_snap_report rep;

  /* E holds the export's lock, and nothing in this process answers. */
  ck_assert_int_eq (store_claim (e), 0);
  ck_assert_int_eq (store_snap_take (st, "n", "n1", 300, false, &rep), -1);
  ck_assert_int_eq (errno, ETIMEDOUT);
  ck_assert (rep.holder);
  ck_assert (access (path ("data/exports/n/" STORE_SNAP_REQUEST), F_OK) != 0);
  ck_assert (access (path ("data/exports/n1/" STORE_META_NAME), F_OK) != 0);
  store_close_export (e);
}
END_TEST

/* ---- The holder side ---- */

START_TEST (test_copy_before_write)
{
  struct store_export *e = make_export ("h", 3, 'a');
  struct snap_request req;
  struct snap_point pt;
  unsigned char buf[PAGE];

  store_snap_serve (60000);     /* no poll during the test */
  ck_assert_int_eq (snap_request_new ("h1", &req), 0);
  ck_assert_int_eq (snap_request_put (e, &req), 0);
  /* A claim answers the request at once: the point is recorded. */
  ck_assert_int_eq (store_claim (e), 0);
  ck_assert_ptr_nonnull (e->snap);
  ck_assert_int_eq (snap_point_get (e, 16, &pt), 1);
  ck_assert_str_eq (pt.req.id, req.id);
  ck_assert_uint_eq (pt.nentries, 3);
  snap_point_free (&pt);

  /* The first overwrite or delete of a recorded page copies it first. */
  memset (buf, 'y', sizeof buf);
  ck_assert_int_eq (store_write_page (e, 0, buf, PAGE), 0);
  ck_assert_int_eq (store_write_page (e, 0, buf, PAGE), 0);
  ck_assert_int_eq (store_delete_page (e, 1), 0);
  ck_assert_int_eq (store_write_page (e, 5, buf, PAGE), 0);  /* new page */
  ck_assert (page_is ("h1", 0, 'a'));
  ck_assert (page_is ("h1", 1, 'b'));
  ck_assert (access (path ("data/exports/h1/page-00000002.bin"), F_OK) != 0);
  ck_assert (access (path ("data/exports/h1/page-00000005.bin"), F_OK) != 0);
  store_close_export (e);

  /* A holder that claims the export again resumes from the record. */
  e = store_open_export (st, "h");
  ck_assert_int_eq (store_claim (e), 0);
  ck_assert_int_eq (store_write_page (e, 2, buf, PAGE), 0);
  ck_assert (page_is ("h1", 2, 'c'));

  /* The request gone (the tool finished): a claim disarms, and removes
   * the stale record.
   */
  ck_assert_int_eq (store_remove_object (e, STORE_SNAP_REQUEST), 0);
  store_close_export (e);
  e = store_open_export (st, "h");
  ck_assert_int_eq (store_claim (e), 0);
  ck_assert (access (path ("data/exports/h/" STORE_SNAP_POINT), F_OK) != 0);
  memset (buf, 'x', sizeof buf);
  ck_assert_int_eq (store_write_page (e, 0, buf, PAGE), 0);
  ck_assert (page_is ("h1", 0, 'a'));
  store_close_export (e);
}
END_TEST

/* Once the snapshot has its metadata (the tool copied every page),
 * copy-before-write copies nothing more into it: a copy could only land
 * in an export made under its name after it was deleted.
 */
START_TEST (test_copy_before_write_done)
{
  struct store_export *e = make_export ("d", 2, 'a'), *dst;
  struct store_meta done = meta4k;
  struct snap_request req;
  unsigned char buf[PAGE];

  store_snap_serve (60000);
  ck_assert_int_eq (mkdir (path ("data/exports/d1"), 0777), 0);
  ck_assert_int_eq (snap_request_new ("d1", &req), 0);
  ck_assert_int_eq (snap_request_put (e, &req), 0);
  ck_assert_int_eq (store_claim (e), 0);        /* armed */
  dst = store_open_export (st, "d1");
  done.version = STORE_META_VERSION;
  done.read_only = true;
  ck_assert_int_eq (store_write_meta (dst, &done), 0);
  store_close_export (dst);
  memset (buf, 'y', sizeof buf);
  ck_assert_int_eq (store_write_page (e, 0, buf, PAGE), 0);
  ck_assert (access (path ("data/exports/d1/page-00000000.bin"), F_OK) != 0);
  store_close_export (e);
}
END_TEST

/* A request that names an export (the tool never writes one) is not
 * answered: nothing is copied over that export.
 */
START_TEST (test_request_into_export)
{
  struct store_export *e = make_export ("r", 2, 'a');
  struct store_export *other = make_export ("other", 2, 'o');
  struct snap_request req;
  unsigned char buf[PAGE];

  store_close_export (other);
  store_snap_serve (60000);
  ck_assert_int_eq (snap_request_new ("other", &req), 0);
  ck_assert_int_eq (snap_request_put (e, &req), 0);
  ck_assert_int_eq (store_claim (e), 0);
  ck_assert (access (path ("data/exports/r/" STORE_SNAP_POINT), F_OK) != 0);
  memset (buf, 'y', sizeof buf);
  ck_assert_int_eq (store_write_page (e, 0, buf, PAGE), 0);
  ck_assert (page_is ("other", 0, 'o'));
  store_close_export (e);
}
END_TEST

Suite *
snapshot_suite (void)
{
  Suite *s = suite_create ("snapshot");
  TCase *s3 = tcase_create ("s3");
  TCase *fs = tcase_create ("fs");

  tcase_add_test (s3, test_copy_result);
  tcase_add_test (s3, test_content_length);
  suite_add_tcase (s, s3);

  tcase_add_checked_fixture (fs, setup, teardown);
  tcase_add_test (fs, test_point_round_trip);
  tcase_add_test (fs, test_claim_huge_export);
  tcase_add_test (fs, test_copy_version);
  tcase_add_test (fs, test_take_quiescent);
  tcase_add_test (fs, test_take_removes_leftovers);
  tcase_add_test (fs, test_take_clone);
  tcase_add_test (fs, test_take_no_answer);
  tcase_add_test (fs, test_copy_before_write);
  tcase_add_test (fs, test_copy_before_write_done);
  tcase_add_test (fs, test_request_into_export);
  suite_add_tcase (s, fs);
  return s;
}
