/* SPDX-License-Identifier: MIT
 *
 * The S3 store's methods for clones and snapshots (store.h).  A clone's
 * tombstone of a page is the empty object page-%08x.zero beside its
 * pages, PUT and DELETEd unconditionally under the export's lease (every
 * tombstone is the same object) and listed with the pages' listing.  A
 * snapshot lists each page with its version (its ETag) and copies a page
 * or tombstone with a server-side CopyObject conditional on that version,
 * then checks the copy with a HEAD: the invariant at the top of
 * store-s3.c.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <nbdkit-plugin.h>

#include "cleanup.h"
#include "s3-http.h"
#include "s3-xml.h"
#include "store-s3-etags.h"
#include "store-s3-impl.h"

/* ---- Tombstones (store.h): empty objects page-%08x.zero ---- */

/* PUT or DELETE (METHOD) the tombstone of PAGE, under the lease as a
 * page mutation is.  Unconditional: every tombstone is the same empty
 * object, so a late attempt changes nothing that another did not also
 * mean.  0 or -1.
 */
static int
mutate_tombstone (struct s3_export *e, uint32_t page, const char *method)
{
  struct s3_store *s = (struct s3_store *) e->base.store;
  char leaf[STORE_TOMBSTONE_NAME_LEN + 1];
  CLEANUP_FREE char *key = NULL;
  struct s3_http_request req = {
    .method = method, .body = "", .body_len = 0, .missing_ok = true,
  };
  struct s3_http_response resp;
  int r;

  snprintf (leaf, sizeof leaf, STORE_TOMBSTONE_NAME_FMT, page);
  if ((key = s3_store_export_key (e, leaf)) == NULL ||
      s3_store_may_mutate_key (e, method, key, &req.not_after) == -1)
    return -1;
  req.key = key;
  r = s3_http_request (s->http, &req, &resp);
  free (resp.body);
  return r;
}

int
s3_put_tombstone (struct store_export *se, uint32_t page)
{
  return mutate_tombstone ((struct s3_export *) se, page, "PUT");
}

int
s3_remove_tombstone (struct store_export *se, uint32_t page)
{
  return mutate_tombstone ((struct s3_export *) se, page, "DELETE");
}

int
s3_list_tombstones (struct store_export *se,
                    int (*fn) (void *opaque, uint32_t page), void *opaque)
{
  return s3_store_list_page_objects (se, true, fn, opaque);
}

/* ---- Snapshots ---- */

int
s3_list_page_versions (struct store_export *se,
                       int (*fn) (void *opaque, uint32_t page,
                                  const char *version),
                       void *opaque)
{
  struct s3_export *e = (struct s3_export *) se;
  struct pages_ctx ctx = { e, false, NULL, opaque, fn };

  return s3_store_list_objects ((struct s3_store *) e->base.store,
                                e->prefix, NULL, s3_store_page_object,
                                NULL, &ctx);
}

/* HEAD the copy KEY: 1 if it is SIZE bytes and, when SIZE is not 0 (a
 * page), carries a checksum; 0 if absent; -1 after nbdkit_error when it
 * is not what was copied.
 */
static int
check_copy (struct s3_store *s, const char *key, uint64_t size)
{
  struct s3_http_request req = {
    .method = "HEAD", .key = key, .missing_ok = true,
  };
  struct s3_http_response resp;

  if (s3_http_request (s->http, &req, &resp) == -1)
    return -1;
  free (resp.body);
  if (resp.status == 404)
    return 0;
  if (resp.content_length != (int64_t) size ||
      (size && s3_http_response_meta (&resp, CHECKSUM_META) == NULL)) {
    nbdkit_error ("S3 copy s3://%s/%s is %" PRId64 " bytes%s, expected %"
                  PRIu64 " with a checksum: the server did not copy it as "
                  "it was", s->bucket, key, resp.content_length,
                  s3_http_response_meta (&resp, CHECKSUM_META) ? "" :
                  " without a checksum", size);
    errno = EIO;
    return -1;
  }
  return 1;
}

/* CopyObject of SRC to DST if SRC's ETag is VERSION (unless ""): 1, 0 if
 * SRC is not VERSION (412) or absent, -1 after nbdkit_error.
 */
static int
copy_object (struct s3_store *s, const char *src, const char *dst,
             const char *version)
{
  char bare[S3_HTTP_ETAG_MAX], quoted[S3_HTTP_ETAG_MAX + 2];
  char etag[S3_XML_ETAG_MAX];
  struct s3_http_request req = {
    .method = "PUT", .key = dst, .copy_source = src, .missing_ok = true,
  };
  struct s3_http_response resp;
  struct s3_error err;
  int r;

  if (version[0]) {
    s3_etag_bare (version, bare);
    snprintf (quoted, sizeof quoted, "\"%s\"", bare);
    req.copy_if_match = __atomic_load_n (&s->quote_etags, __ATOMIC_RELAXED)
      ? quoted : bare;
  }
  r = s3_http_request (s->http, &req, &resp);
  if (r == -1 || resp.status == 404) {
    free (resp.body);
    return r == -1 && errno != EAGAIN ? -1 : 0;
  }
  r = s3_xml_parse_copy_result (resp.body, resp.body_len, etag, &err);
  free (resp.body);
  if (r == -1) {
    nbdkit_error ("S3 CopyObject s3://%s/%s to %s failed although the "
                  "server answered %ld: %s: %s", s->bucket, src, dst,
                  resp.status, err.code[0] ? err.code : "no "
                  "CopyObjectResult", s3_error_text (&err));
    errno = EIO;
    return -1;
  }
  return 1;
}

int
s3_copy_object (struct store_export *se, const char *name,
                const char *version, uint64_t size, struct store_export *sdst)
{
  struct s3_export *e = (struct s3_export *) se;
  struct s3_store *s = (struct s3_store *) e->base.store;
  CLEANUP_FREE char *src = s3_store_export_key (e, name);
  CLEANUP_FREE char *dst = s3_store_export_key ((struct s3_export *) sdst,
                                                name);
  int r, c;

  if (src == NULL || dst == NULL)
    return -1;
  r = copy_object (s, src, dst, version);
  if (r == -1 || (c = check_copy (s, dst, size)) == -1)
    return -1;
  if (r == 0)     /* changed or deleted since VERSION: copied before? */
    return c == 1 ? 2 : 0;
  if (c == 0) {
    nbdkit_error ("S3 copy s3://%s/%s is absent just after CopyObject "
                  "made it: is the server consistent?", s->bucket, dst);
    errno = EIO;
    return -1;
  }
  return 1;
}
