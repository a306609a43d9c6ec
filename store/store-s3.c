/* SPDX-License-Identifier: MIT
 *
 * The S3 page store: export NAME lives under the key prefix
 * [PREFIX/]exports/NAME/ of one bucket (PREFIX is prefix=), as one object
 * per stored page (page-%08x.bin, always a full page) plus its metadata
 * (nbds3.meta), and in a clone one empty object per tombstone
 * (page-%08x.zero).  Every key, listing and probe object is under that root.
 * This file maps the store methods to S3 requests (named objects and the
 * tool's methods in store-s3-objects.c, tombstones and snapshots' copies
 * in store-s3-snap.c, what the three share in store-s3-impl.h); s3-http.c
 * sends them.
 *
 * Invariants:
 * - Only a 404 whose S3 error Code is NoSuchKey means "not stored".  Any
 *   other failure (another 404 such as NoSuchBucket, a 403, a wrong
 *   endpoint or proxy) is an I/O error, and so is a page object whose
 *   length is not the page size: never zeros.
 * - S3 PUT and DELETE replace or remove an object atomically, so a page is
 *   never torn; an acknowledged request is durable.
 * - Every page PUT is conditional, so that an attempt that timed out but
 *   still reaches the server later cannot overwrite a newer version: each
 *   open export keeps the ETag of every page it knows to be stored (from
 *   the listing, GETs and PUTs; store-s3-etags.c, a table proportional to
 *   the stored pages)
 *   and sends If-Match: ETAG, or If-None-Match: * for a page it believes
 *   absent.  If-Match names the ETag in bare hex (what radosgw compares)
 *   until a server refuses a condition naming the current ETag: then
 *   quoted (RFC 7232, AWS).  ETags are opaque here: they are compared,
 *   never taken for content hashes (SSE-KMS and multipart ETags are not).
 * - The 412 rule: a refused condition never leads to writing over content
 *   this process did not write.  Every PUT carries, in its user metadata
 *   (x-amz-meta-nbds3-writer), this process's random writer token and a
 *   number of its own.  After a 412 a HEAD shows what the object is now:
 *   - the ETag the condition named: a quoting mismatch, resent once in
 *     the other form;
 *   - this very request's nonce: it landed, done;
 *   - another nonce with this process's token: an earlier attempt of ours
 *     that landed late; resent with If-Match on its ETag;
 *   - absent: nothing to overwrite; resent with If-None-Match: *;
 *   - for a first PUT with If-None-Match: * (the page was believed
 *     absent: the listing or a NoSuchKey was wrong), a nonce of another
 *     nbds3 writer: a page an earlier holder of the export's lease wrote
 *     (this server holds the lease, so no other holder is known).
 *     Nothing is overwritten: its ETag is recorded and the PUT fails with
 *     EEXIST (store.h), after one error line naming export, page and
 *     object, so that the cache fetches the page and merges what its
 *     client wrote into it;
 *   - anything else (a writer that is not nbds3, a page written before
 *     this rule, a late change under If-Match): a conflict.  The request
 *     fails with EIO, naming export, page and object, and the export is
 *     fenced: every later page PUT or DELETE fails until nbdkit restarts,
 *     so the cache keeps its dirty pages and the stored object is left as
 *     it is.
 *   DELETEs follow the same rule (radosgw 16 ignores conditions on
 *   DELETE, so there only the lease protects them).
 *   nbds3.meta is created with If-None-Match: *; an existing one is
 *   accepted only if it says the same, never rewritten.
 * - Every page PUT stores the page's checksum (store.h) in its user
 *   metadata, x-amz-meta-nbds3-crc32c; a GET returns it for
 *   store_read_page to check.
 * - A snapshot's copy of a page (s3_copy_object, store-s3-snap.c) is a
 *   server-side CopyObject under the snapshot's own key, conditional on
 *   the source's ETag at the snapshot's point (x-amz-copy-source-if-match
 *   and radosgw's x-amz-copy-if-match: radosgw 16 honours only the
 *   latter), never on the destination; a 200 with an <Error> body is a
 *   failure, and every copy is checked with a HEAD (its size and checksum
 *   metadata).
 * - One writer per export: s3_claim (before the first write) probes once
 *   that the server honours conditional writes, then takes the export's
 *   lease (store-s3-lease.c).  Every mutation checks the lease first and
 *   starts no attempt after the time by which the lease could run out;
 *   the close releases it.  Read-only servers never claim.
 */

#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <nbdkit-plugin.h>

#include "cleanup.h"
#include "s3-http.h"
#include "s3-xml.h"
#include "store-s3-etags.h"
#include "store-s3-impl.h"
#include "store-s3-lease.h"
#include "store-s3-probe.h"
#include "store-s3.h"
#include "text.h"

static const struct store_ops s3_ops;

/* The start-up probe: quick, one retry at most, about 8 s in all. */
static const struct s3_http_budget probe_budget = {
  .connect_timeout = 3, .request_timeout = 3, .retry_deadline = 8,
  .max_attempts = 2,
};

/* ---- Requests ---- */

char *
s3_store_export_key (struct s3_export *e, const char *leaf)
{
  char *key;

  if (asprintf (&key, "%s%s", e->prefix, leaf) == -1) {
    nbdkit_error ("s3: out of memory");
    return NULL;
  }
  return key;
}

/* The checksum of a page object from the user metadata of RESP into SUM
 * (not present if it has none).  0, or -1 after nbdkit_error (malformed).
 */
static int
get_checksum (const struct s3_store *s, const char *key,
              const struct s3_http_response *resp, struct store_checksum *sum)
{
  const char *text = s3_http_response_meta (resp, CHECKSUM_META);

  sum->present = false;
  if (text == NULL)
    return 0;
  if (!store_checksum_parse (text, strlen (text), sum)) {
    nbdkit_error ("S3 object s3://%s/%s: its x-amz-meta-" CHECKSUM_META
                  " is not a checksum: the export is damaged", s->bucket,
                  key);
    errno = EIO;
    return -1;
  }
  return 0;
}

/* GET KEY into BUF of LEN bytes, and unless SUM is NULL the checksum
 * stored with it.  1 if found (*GOT set to its length), 0 if NoSuchKey,
 * -1 on error.
 */
int
s3_store_get_object (struct s3_store *s, const char *key, void *buf,
                     size_t len, size_t *got, char etag[S3_HTTP_ETAG_MAX],
                     struct store_checksum *sum)
{
  struct s3_http_request req = {
    .method = "GET", .key = key, .resp_buf = buf, .resp_len = len,
    .missing_ok = true,
  };
  struct s3_http_response resp;

  if (s3_http_request (s->http, &req, &resp) == -1)
    return -1;
  *got = resp.body_len;
  if (resp.status == 404)
    return 0;
  if (etag)
    strcpy (etag, resp.etag);
  if (sum && get_checksum (s, key, &resp, sum) == -1)
    return -1;
  return 1;
}

/* PUT BUF of LEN bytes to KEY; only if KEY does not exist when
 * IF_NONE_MATCH (a 412 is then EAGAIN, not reported).  0 or -1.
 */
int
s3_store_put_object (struct s3_store *s, const char *key, const void *buf,
                     size_t len, bool if_none_match, int64_t not_after)
{
  struct s3_http_request req = {
    .method = "PUT", .key = key, .body = buf, .body_len = len,
    .if_none_match = if_none_match, .not_after = not_after,
  };
  struct s3_http_response resp;
  int r = s3_http_request (s->http, &req, &resp);

  free (resp.body);             /* a body, if the server sent one */
  return r;
}

/* Call OBJECT_FN for every object key and PREFIX_FN for every common
 * prefix (with DELIMITER) under PREFIX, page by page.  Either function
 * returning -1 stops the listing.  0 or -1.
 */
int
s3_store_list_objects (struct s3_store *s, const char *prefix,
                       const char *delimiter,
                       int (*object_fn) (void *opaque,
                                         const struct s3_list_object *obj),
                       int (*prefix_fn) (void *opaque, const char *prefix),
                       void *opaque)
{
  CLEANUP_FREE char *token = NULL;
  int r = 0;

  do {
    struct sigv4_pair query[4] = {
      { "list-type", "2" }, { "prefix", prefix },
    };
    struct s3_http_request req = {
      .method = "GET", .query = query, .nquery = 2,
    };
    struct s3_http_response resp;
    struct s3_list_result list;

    if (delimiter)
      query[req.nquery++] = (struct sigv4_pair) { "delimiter", delimiter };
    if (token)
      query[req.nquery++] = (struct sigv4_pair) {
        "continuation-token", token
      };
    if (s3_http_request (s->http, &req, &resp) == -1)
      return -1;
    r = s3_xml_parse_list (resp.body, resp.body_len, &list);
    free (resp.body);
    if (r == -1) {
      errno = EIO;
      return -1;
    }
    for (size_t i = 0; r == 0 && i < list.nr_objects; ++i)
      if (object_fn)
        r = object_fn (opaque, &list.objects[i]);
    for (size_t i = 0; r == 0 && i < list.nr_prefixes; ++i)
      if (prefix_fn)
        r = prefix_fn (opaque, list.prefixes[i]);
    if (r == 0 && token && list.next_token &&
        strcmp (token, list.next_token) == 0) {
      nbdkit_error ("s3: listing %s: the server returned the same "
                    "continuation token twice", prefix);
      errno = EIO;
      r = -1;
    }
    free (token);
    token = list.next_token;    /* NULL unless truncated */
    list.next_token = NULL;
    s3_xml_list_free (&list);
  } while (r == 0 && token);
  return r;
}

static int
s3_ready (struct store *st)
{
  struct s3_store *s = (struct s3_store *) st;
  /* Within the root, so a policy that allows listing only there works. */
  const struct sigv4_pair query[] = {
    { "list-type", "2" }, { "max-keys", "1" }, { "prefix", s->root },
  };
  struct s3_http_request req = {
    .method = "GET", .query = query, .nquery = 3, .quiet = true,
    .budget = &probe_budget,
  };
  struct s3_http_response resp;
  struct s3_list_result list;
  char msg[S3_HTTP_DESCRIBE_MAX];
  const char *hint = NULL;

  if (s3_http_request (s->http, &req, &resp) == 0) {
    int r = s3_xml_parse_list (resp.body, resp.body_len, &list);

    free (resp.body);
    s3_xml_list_free (&list);
    if (r == -1) {
      nbdkit_error ("S3 bucket %s at %s: the answer is not an S3 listing: "
                    "is endpoint= an S3 server?", s->bucket, s->endpoint);
      return -1;
    }
    nbdkit_debug ("s3: bucket %s at %s is ready", s->bucket, s->endpoint);
    return 0;
  }

  s3_http_describe (s->http, &req, &resp, msg, sizeof msg);
  if (resp.curl_code == 0 && !resp.too_long) {  /* S3 answered */
    if (resp.err.code[0] == '\0')
      hint = "is endpoint= an S3 server, and bucket= right?";
    else if (resp.err.message[0])
      hint = s3_error_explain (resp.err.code);
  }
  else if (s3_error_is_tls (resp.curl_code))
    hint = "does the server speak TLS (https://) with a certificate this "
      "machine trusts? check endpoint= and ca-file= (tls-verify=false "
      "only for a test server)";
  else
    hint = "check endpoint= and that the S3 server is running";
  nbdkit_error ("cannot use S3 bucket %s at %s: %s%s%s", s->bucket,
                s->endpoint, msg, hint ? ": " : "", hint ? hint : "");
  errno = EIO;
  return -1;
}

struct exports_ctx {
  struct s3_store *s;
  int (*fn) (void *opaque, const char *name);
  void *opaque;
};

/* A common prefix ROOT/NAME/ of the listing: report NAME if valid and
 * it has metadata.
 */
static int
export_prefix (void *opaque, const char *prefix)
{
  struct exports_ctx *ctx = opaque;
  const size_t skip = strlen (ctx->s->root);
  CLEANUP_FREE char *name = NULL, *key = NULL;
  char meta[STORE_META_MAX];
  size_t len = strlen (prefix), got;
  int r;

  if (len < skip + 2 || prefix[len - 1] != '/' ||
      strncmp (prefix, ctx->s->root, skip) != 0)
    return 0;
  name = strndup (prefix + skip, len - skip - 1);
  if (name == NULL || asprintf (&key, "%s" STORE_META_NAME, prefix) == -1) {
    key = NULL;
    nbdkit_error ("s3: out of memory");
    return -1;
  }
  if (!store_export_name_valid (name))
    return 0;
  r = s3_store_get_object (ctx->s, key, meta, sizeof meta, &got, NULL, NULL);
  if (r <= 0)
    return r;
  return ctx->fn (ctx->opaque, name);
}

static int
s3_list_exports (struct store *st, int (*fn) (void *opaque, const char *name),
                 void *opaque)
{
  struct exports_ctx ctx = { (struct s3_store *) st, fn, opaque };

  return s3_store_list_objects (ctx.s, ctx.s->root, "/", NULL, export_prefix,
                                &ctx);
}

/* May a mutation of E start now?  0 and *NOT_AFTER (no attempt after
 * it: the lease), or -1 after nbdkit_error.
 */
int
s3_store_may_mutate (struct s3_export *e, int64_t *not_after)
{
  if (e->lease == NULL) {
    nbdkit_error ("S3 export %s: written before this server took its lease",
                  e->name);
    errno = EIO;
    return -1;
  }
  return s3_lease_check (e->lease, not_after);
}

static void
s3_close_export (struct store_export *se)
{
  struct s3_export *e = (struct s3_export *) se;

  if (e->lease)
    s3_lease_release (e->lease,
                      __atomic_load_n (&((struct s3_store *) e->base.store)
                                       ->aborted, __ATOMIC_RELAXED));
  free (e->name);
  free (e->prefix);
  s3_etags_free (&e->etags);
  free (e);
}

static const char *
s3_root (struct store *st)
{
  return ((struct s3_store *) st)->root;
}

static struct store_export *
s3_open_export (struct store *st, const char *name)
{
  struct s3_export *e = calloc (1, sizeof *e);

  if (e == NULL) {
    nbdkit_error ("s3: out of memory");
    return NULL;
  }
  e->base.store = st;
  s3_etags_init (&e->etags);
  e->name = strdup (name);
  if (e->name == NULL ||
      asprintf (&e->prefix, "%s%s/", s3_root (st), name) == -1) {
    e->prefix = NULL;
    nbdkit_error ("s3: out of memory");
    s3_close_export (&e->base);
    return NULL;
  }
  /* No single-writer guard yet: see the top of this file. */
  return &e->base;
}

int
s3_read_meta (struct store_export *se, struct store_meta *meta)
{
  struct s3_export *e = (struct s3_export *) se;
  struct s3_store *s = (struct s3_store *) e->base.store;
  CLEANUP_FREE char *key = s3_store_export_key (e, STORE_META_NAME);
  CLEANUP_FREE char *where = NULL;
  char text[STORE_META_MAX];
  size_t len;
  int r;

  if (key == NULL)
    return -1;
  r = s3_store_get_object (s, key, text, sizeof text, &len, NULL, NULL);
  if (r <= 0)
    return r;
  if (asprintf (&where, "s3://%s/%s", s->bucket, key) == -1)
    where = NULL;
  if (store_meta_parse (text, len, meta, where ? where : key) == -1) {
    errno = EIO;
    return -1;
  }
  return 1;
}

static int
s3_write_meta (struct store_export *se, const struct store_meta *meta)
{
  struct s3_export *e = (struct s3_export *) se;
  CLEANUP_FREE char *key = s3_store_export_key (e, STORE_META_NAME);
  char text[STORE_META_MAX];
  size_t len = store_meta_format (meta, text);

  struct s3_store *s = (struct s3_store *) e->base.store;
  struct store_meta now;
  int64_t not_after;

  /* Created once, never rewritten: two processes cannot both create the
   * export with different shapes.
   */
  if (key == NULL || s3_store_may_mutate (e, &not_after) == -1)
    return -1;
  if (s3_store_put_object (s, key, text, len, true, not_after) == 0)
    return 0;
  if (errno != EAGAIN)
    return -1;
  switch (s3_read_meta (se, &now)) {
  case -1:
    return -1;
  case 1:
    if (now.size == meta->size && now.page_size == meta->page_size)
      return 0;                 /* created alike, by another or by us */
    nbdkit_error ("S3 export %s: s3://%s/%s appeared while this server was "
                  "creating it, with size %" PRIu64 " and page size %"
                  PRIu32 " instead of %" PRIu64 " and %" PRIu32 ": another "
                  "server created it; reconnect to use it as it is",
                  e->name, s->bucket, key, now.size, now.page_size,
                  meta->size, meta->page_size);
    break;
  default:
    nbdkit_error ("S3 export %s: creating s3://%s/%s was refused (412) "
                  "but it does not exist: is the server consistent?",
                  e->name, s->bucket, key);
  }
  errno = EIO;
  return -1;
}

int
s3_store_page_object (void *opaque, const struct s3_list_object *obj)
{
  struct pages_ctx *ctx = opaque;
  size_t plen = strlen (ctx->e->prefix);
  uint32_t page;

  if (strncmp (obj->key, ctx->e->prefix, plen) != 0)
    return 0;                   /* not ours */
  if (ctx->tombstones)
    return store_tombstone_name_parse (obj->key + plen, &page)
      ? ctx->fn (ctx->opaque, page) : 0;
  if (!store_page_name_parse (obj->key + plen, &page))
    return 0;                   /* nbds3.meta, or another object */
  if (s3_etags_set (&ctx->e->etags, page, obj->etag) == -1)
    return -1;
  if (ctx->versioned_fn)
    return ctx->versioned_fn (ctx->opaque, page, obj->etag);
  return ctx->fn (ctx->opaque, page);
}

/* List E's pages, or with TOMBSTONES its tombstones, into FN. */
int
s3_store_list_page_objects (struct store_export *se, bool tombstones,
                            int (*fn) (void *opaque, uint32_t page),
                            void *opaque)
{
  struct s3_export *e = (struct s3_export *) se;
  struct pages_ctx ctx = { e, tombstones, fn, opaque, NULL };

  return s3_store_list_objects ((struct s3_store *) e->base.store,
                                e->prefix, NULL, s3_store_page_object,
                                NULL, &ctx);
}

static int
s3_list_pages (struct store_export *se,
               int (*fn) (void *opaque, uint32_t page), void *opaque)
{
  return s3_store_list_page_objects (se, false, fn, opaque);
}

static int
s3_read_page (struct store_export *se, uint32_t page, void *buf, size_t len,
              struct store_checksum *sum)
{
  struct s3_export *e = (struct s3_export *) se;
  struct s3_store *s = (struct s3_store *) e->base.store;
  char leaf[STORE_PAGE_NAME_LEN + 1];
  CLEANUP_FREE char *key = NULL;
  char etag[S3_HTTP_ETAG_MAX];
  size_t got;
  int r;

  snprintf (leaf, sizeof leaf, STORE_PAGE_NAME_FMT, page);
  if ((key = s3_store_export_key (e, leaf)) == NULL)
    return -1;
  r = s3_store_get_object (s, key, buf, len, &got, etag, sum);
  if (r == 1 && got != len) {
    nbdkit_error ("S3 object s3://%s/%s is %zu bytes, expected %zu: "
                  "the export is damaged", s->bucket, key, got, len);
    errno = EIO;
    return -1;
  }
  if (r == 1 && s3_etags_set (&e->etags, page, etag) == -1)
    return -1;
  if (r == 0)
    s3_etags_remove (&e->etags, page);
  return r;
}

/* After a 412 on KEY: HEAD it.  1 if stored (its ETag, bare, in BARE and
 * the nonce that wrote it in NONCE, "" if none), 0 if absent, -1 on error.
 */
static int
head_object (struct s3_store *s, const char *key,
             char bare[S3_HTTP_ETAG_MAX], char nonce[NONCE_MAX])
{
  struct s3_http_request req = {
    .method = "HEAD", .key = key, .missing_ok = true,
  };
  struct s3_http_response resp;
  const char *writer;

  if (s3_http_request (s->http, &req, &resp) == -1)
    return -1;
  free (resp.body);
  if (resp.status == 404)
    return 0;
  s3_etag_bare (resp.etag, bare);
  writer = s3_http_response_meta (&resp, WRITER_META);
  snprintf (nonce, NONCE_MAX, "%s", writer ? writer : "");
  return 1;
}

/* The ETag a single-part PUT of BUF (LEN bytes) gives, its MD5, into
 * WANT: only needed when a server sends no ETag (at 4M a page, MD5 costs
 * more CPU than the SHA-256 that signs the payload).  0, or -1 after
 * nbdkit_error.
 */
static int
md5_etag (const void *buf, size_t len, char want[S3_HTTP_ETAG_MAX])
{
  uint8_t md5[EVP_MAX_MD_SIZE];

  if (EVP_Digest (buf, len, md5, NULL, EVP_md5 (), NULL) != 1) {
    nbdkit_error ("s3: cannot compute the MD5 of a page");
    errno = EIO;
    return -1;
  }
  text_hex (md5, 16, want);
  return 0;
}

/* A fresh nonce of this process into NONCE. */
static void
new_nonce (struct s3_store *s, char nonce[NONCE_MAX])
{
  uint64_t n = __atomic_add_fetch (&s->nonces, 1, __ATOMIC_RELAXED);

  snprintf (nonce, NONCE_MAX, "%s-%" PRIu64, s->writer, n);
}

/* true if NONCE was made by this process. */
static bool
nonce_is_ours (const struct s3_store *s, const char *nonce)
{
  size_t len = strlen (s->writer);

  return strncmp (nonce, s->writer, len) == 0 && nonce[len] == '-';
}

/* Fence E after a conflict on PAGE (KEY): see the top of this file. */
static void
fence (struct s3_export *e, uint32_t page, const char *method,
       const char *key, const char *bare, const char *nonce)
{
  struct s3_store *s = (struct s3_store *) e->base.store;

  __atomic_store_n (&e->fenced, true, __ATOMIC_RELAXED);
  nbdkit_error ("S3 %s s3://%s/%s (export %s, page %" PRIu32 "): the "
                "object changed behind this server's back (now ETag %s, "
                "written by %s): not overwriting it.  Is another server "
                "writing to this export?  Export %s is fenced: its writes "
                "fail and its dirty pages stay in memory until nbdkit is "
                "restarted", method, s->bucket, key, e->name, page, bare,
                nonce[0] ? nonce : "no nbds3 writer", e->name);
}

/* The first PUT of PAGE (KEY), believed absent, found it written by
 * another nbds3 writer (ETag BARE, NONCE): see the top of this file.
 * Records the ETag; -1 with errno EEXIST.
 */
static int
exists_unlisted (struct s3_export *e, uint32_t page, const char *key,
                 const char *bare, const char *nonce)
{
  struct s3_store *s = (struct s3_store *) e->base.store;

  if (s3_etags_set (&e->etags, page, bare) == -1)
    return -1;
  nbdkit_error ("S3 PUT s3://%s/%s (export %s, page %" PRIu32 "): the page "
                "exists although the page index said it was absent (a "
                "wrong listing or NoSuchKey?); an earlier nbds3 writer "
                "stored it (ETag %s, written by %s): not overwriting it, "
                "the cache merges what was written into it", s->bucket, key,
                e->name, page, bare, nonce);
  errno = EEXIST;
  return -1;
}

/* May mutation METHOD of KEY of E start now: E not fenced (see the top
 * of this file), and s3_store_may_mutate?  0 and *NOT_AFTER, or -1
 * after nbdkit_error.
 */
int
s3_store_may_mutate_key (struct s3_export *e, const char *method,
                         const char *key, int64_t *not_after)
{
  struct s3_store *s = (struct s3_store *) e->base.store;

  if (__atomic_load_n (&e->fenced, __ATOMIC_RELAXED)) {
    nbdkit_error ("S3 %s s3://%s/%s: export %s is fenced after a "
                  "conflict (see above): restart nbdkit to write it again",
                  method, s->bucket, key, e->name);
    errno = EIO;
    return -1;
  }
  return s3_store_may_mutate (e, not_after);
}

/* Send the conditional mutation METHOD ("PUT" with BUF of LEN bytes and
 * its checksum SUM, or "DELETE") of PAGE under the 412 rule at the top of
 * this file: at most four rounds, with a HEAD after each 412.
 */
static int
mutate_page (struct s3_export *e, uint32_t page, const char *method,
             const void *buf, size_t len, const struct store_checksum *sum)
{
  struct s3_store *s = (struct s3_store *) e->base.store;
  const bool put = strcmp (method, "PUT") == 0;
  char leaf[STORE_PAGE_NAME_LEN + 1], nonce[NONCE_MAX];
  char crc[STORE_CHECKSUM_TEXT_LEN + 1] = "";
  const struct sigv4_pair meta[] = {
    { WRITER_META, nonce }, { CHECKSUM_META, crc },
  };
  CLEANUP_FREE char *key = NULL;
  bool flipped = false;
  int64_t not_after;

  snprintf (leaf, sizeof leaf, STORE_PAGE_NAME_FMT, page);
  if ((key = s3_store_export_key (e, leaf)) == NULL)
    return -1;
  new_nonce (s, nonce);
  if (s3_store_may_mutate_key (e, method, key, &not_after) == -1)
    return -1;
  if (sum)
    store_checksum_format (sum, crc);

  for (int round = 0; round < 4; ++round) {
    struct s3_http_request req = {
      .method = method, .key = key, .body = buf, .body_len = len,
      .missing_ok = !put, .meta = put ? meta : NULL,
      .nmeta = put ? (sum ? 2 : 1) : 0, .not_after = not_after,
      .storage_class = put,
    };
    struct s3_http_response resp;
    char known[S3_HTTP_ETAG_MAX], quoted[S3_HTTP_ETAG_MAX + 2];
    char now[S3_HTTP_ETAG_MAX], owner[NONCE_MAX];
    bool stored = s3_etags_get (&e->etags, page, known);
    bool q = __atomic_load_n (&s->quote_etags, __ATOMIC_RELAXED);
    int r;

    if (stored) {
      snprintf (quoted, sizeof quoted, "\"%s\"", known);
      req.if_match = q ? quoted : known;
    }
    else if (put)
      req.if_none_match = true;
    r = s3_http_request (s->http, &req, &resp);
    free (resp.body);
    if (r == 0) {
      if (!put) {
        s3_etags_remove (&e->etags, page);
        return 0;
      }
      if (resp.etag[0])
        return s3_etags_set (&e->etags, page, resp.etag);
      if (md5_etag (buf, len, now) == -1)
        return -1;
      return s3_etags_set (&e->etags, page, now);
    }
    if (errno != EAGAIN)
      return -1;

    /* 412: what does the object hold now? */
    nbdkit_debug ("s3: %s %s: precondition failed (%s %s)", method, key,
                  req.if_match ? "If-Match" : "If-None-Match",
                  req.if_match ? req.if_match : "*");
    r = head_object (s, key, now, owner);
    if (r == -1)
      return -1;
    if (r == 0) {               /* absent: nothing to overwrite */
      s3_etags_remove (&e->etags, page);
      if (!put)
        return 0;
      continue;
    }
    if (stored && strcmp (now, known) == 0 && !flipped) {
      /* Refused although it named the current ETag: the server reads
       * If-Match in the other form (unless another request found that
       * out meanwhile).
       */
      if (__atomic_compare_exchange_n (&s->quote_etags, &q, !q, false,
                                       __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        nbdkit_debug ("s3: If-Match with %s ETags from now on",
                      !q ? "quoted" : "bare");
      flipped = true;
      continue;
    }
    if (put && strcmp (owner, nonce) == 0)
      return s3_etags_set (&e->etags, page, now);   /* this very PUT landed */
    if (put && round == 0 && !stored && owner[0] && !nonce_is_ours (s, owner))
      return exists_unlisted (e, page, key, now, owner);
    if (!nonce_is_ours (s, owner)) {
      fence (e, page, method, key, now, owner);
      errno = EIO;
      return -1;
    }
    /* An earlier attempt of ours landed late: go on from it. */
    if (s3_etags_set (&e->etags, page, now) == -1)
      return -1;
  }
  nbdkit_error ("S3 %s s3://%s/%s: the object changed again while it was "
                "being written (412 Precondition Failed four times): is "
                "another process writing to this export?", method,
                s->bucket, key);
  errno = EIO;
  return -1;
}

static int
s3_write_page (struct store_export *se, uint32_t page,
               const void *buf, size_t len, const struct store_checksum *sum)
{
  return mutate_page ((struct s3_export *) se, page, "PUT", buf, len, sum);
}

static int
s3_delete_page (struct store_export *se, uint32_t page)
{
  return mutate_page ((struct s3_export *) se, page, "DELETE", NULL, 0,
                      NULL);
}

/* Whether the server honours conditional writes, probed once: 0, or -1
 * after nbdkit_error when it does not (unless accept-unconditional) or
 * the probe failed.
 */
static int
probe_once (struct s3_store *s)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&s->probe_lock);
  CLEANUP_FREE char *key = NULL;
  int r;

  if (s->probed == 0) {
    if (asprintf (&key, "%s.nbds3-probe-%s", s->root, s->writer) == -1) {
      key = NULL;
      nbdkit_error ("s3: out of memory");
      return -1;
    }
    r = s3_probe_conditional (s->http, key);
    if (r == -1)
      return -1;
    s->probed = r ? 1 : -1;
  }
  if (s->probed == 1 || s->accept_unconditional)
    return 0;
  nbdkit_error ("S3 server %s does not honour conditional writes (it "
                "accepted a PUT with If-None-Match: * of an existing object "
                "or with If-Match of a wrong ETag): nbds3 cannot keep a late "
                "request or a second server from overwriting pages there, "
                "so it does not write to it.  Serve read-only (nbdkit -r), "
                "or set accept-unconditional=true to accept that risk",
                s->endpoint);
  errno = EROFS;
  return -1;
}

static int
s3_claim (struct store_export *se)
{
  struct s3_export *e = (struct s3_export *) se;
  struct s3_store *s = (struct s3_store *) e->base.store;
  CLEANUP_FREE char *key = s3_store_export_key (e, S3_LEASE_NAME);

  if (e->lease)
    return 0;
  if (key == NULL || probe_once (s) == -1)
    return -1;
  return s3_lease_take (s->leases, e->name, key, &e->lease);
}

static void
s3_free (struct store *st)
{
  struct s3_store *s = (struct s3_store *) st;

  s3_leases_free (s->leases);
  s3_http_free (s->http);
  pthread_mutex_destroy (&s->probe_lock);
  free (s->root);
  free (s);
  s3_http_global_cleanup ();
}

static void
s3_cancel (struct store *st)
{
  struct s3_store *s = (struct s3_store *) st;

  unsigned inflight = s3_http_cancel (s->http);

  nbdkit_debug ("s3: cancelling retries (%u requests in flight)", inflight);
  if (inflight)
    __atomic_store_n (&s->aborted, true, __ATOMIC_RELAXED);
  s3_leases_halt (s->leases);
}

static const struct store_ops s3_ops = {
  .name = "s3",
  .ready = s3_ready,
  .list_exports = s3_list_exports,
  .open_export = s3_open_export,
  .read_meta = s3_read_meta,
  .write_meta = s3_write_meta,
  .list_pages = s3_list_pages,
  .read_page = s3_read_page,
  .write_page = s3_write_page,
  .delete_page = s3_delete_page,
  .close_export = s3_close_export,
  .free = s3_free,
  .cancel = s3_cancel,
  .claim = s3_claim,
  .list_objects = s3_list_objects,
  .put_object = s3_put_object,
  .get_object = s3_get_object,
  .remove_object = s3_remove_object,
  .guard_holder = s3_guard_holder,
  .replace_meta = s3_replace_meta,
  .remove_objects = s3_remove_objects,
  .remove_export = s3_remove_export,
  .check_guard = s3_check_guard,
  .put_tombstone = s3_put_tombstone,
  .remove_tombstone = s3_remove_tombstone,
  .list_tombstones = s3_list_tombstones,
  .list_page_versions = s3_list_page_versions,
  .copy_object = s3_copy_object,
};

/* This process's writer token: random, so that no other process or
 * restart has it.  0, or -1 after nbdkit_error.
 */
static int
new_writer_token (struct s3_store *s)
{
  unsigned char token[WRITER_TOKEN_BYTES];

  if (RAND_bytes (token, sizeof token) != 1) {
    nbdkit_error ("s3: cannot draw a random writer token (OpenSSL RAND)");
    return -1;
  }
  text_hex (token, sizeof token, s->writer);
  return 0;
}

struct store *
store_s3_new (const struct s3_config *cfg)
{
  struct s3_store *s;

  if (s3_http_global_init () == -1)
    return NULL;
  s = calloc (1, sizeof *s);
  if (s == NULL) {
    nbdkit_error ("s3: out of memory");
    s3_http_global_cleanup ();
    return NULL;
  }
  s->base.ops = &s3_ops;
  pthread_mutex_init (&s->probe_lock, NULL);
  s->accept_unconditional = cfg->accept_unconditional;
  if (asprintf (&s->root, "%s%s" STORE_EXPORTS_DIR "/",
                cfg->prefix ? cfg->prefix : "", cfg->prefix ? "/" : "") == -1) {
    s->root = NULL;
    nbdkit_error ("s3: out of memory");
    s3_free (&s->base);
    return NULL;
  }
  if (new_writer_token (s) == -1 || (s->http = s3_http_new (cfg)) == NULL ||
      (s->leases = s3_leases_new (cfg, s->writer, &s->quote_etags)) == NULL) {
    s3_free (&s->base);
    return NULL;
  }
  s->bucket = s3_http_bucket (s->http);
  s->endpoint = s3_http_endpoint (s->http);
  return &s->base;
}
