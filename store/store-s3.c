/* SPDX-License-Identifier: MIT
 *
 * The S3 page store: export NAME lives under the key prefix
 * exports/NAME/ of one bucket, as one object per stored page
 * (page-%08x.bin, always a full page) plus its metadata (nbds3.meta).
 * This file maps the store methods to S3 requests; s3-http.c sends them.
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
 *   the listing, GETs and PUTs; a table proportional to the stored pages)
 *   and sends If-Match: ETAG, or If-None-Match: * for a page it believes
 *   absent.  A 412 means the object changed behind our back, which for a
 *   single writer is one of our own earlier attempts landing late: HEAD
 *   learns its ETag and the PUT is sent once more with that condition
 *   (or not at all if the object already holds this very content: its
 *   MD5, computed only then, is the ETag of a single-part PUT).  Every
 *   other late attempt carries an older condition and is refused.  DELETE
 *   is conditional the same way when the ETag is known.  If-Match names
 *   the ETag in bare hex (what radosgw compares) until a server refuses a
 *   condition naming the current ETag: then quoted (RFC 7232, AWS).
 *   Limit: ETags are content hashes, so a late attempt whose condition is
 *   the ETag of content A still lands if the page holds A again (A, then
 *   B timed out, then A rewritten).
 * - No single-writer guard yet: open_export only allocates.  The S3 lease
 *   (a conditional PUT of a lease object, renewed while the export is
 *   open) is a later step; until then two nbdkit processes must not serve
 *   the same export of one bucket.
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

#include <nbdkit-plugin.h>

#include "cleanup.h"
#include "s3-http.h"
#include "s3-xml.h"
#include "store-s3.h"

#define AWS_ENDPOINT_FMT "https://s3.%s.amazonaws.com"

struct s3_store {
  struct store base;
  struct s3_http *http;
  char *bucket;
  char *endpoint;
  /* How If-Match names an ETag: RFC 7232 quotes it (AWS), radosgw wants
   * bare hex.  Starts bare; flipped when the server refuses a condition
   * that names the object's current ETag.  Atomic.
   */
  bool quote_etags;
};

/* The ETag of one stored page: the MD5 of a single-part PUT, or
 * "stored, ETag not an MD5" (another kind of server: such pages are
 * written unconditionally).
 */
struct etag_entry {
  uint32_t page;
  bool used;                    /* a slot of the table holding a page */
  bool md5_known;
  uint8_t md5[16];
};

struct s3_export {
  struct store_export base;
  char *name;
  char *prefix;                 /* exports/NAME/ */
  pthread_mutex_t lock;         /* guards the ETag table */
  struct etag_entry *etags;     /* open addressing, linear probing */
  size_t netags, etags_cap;     /* cap: 0 or a power of 2 */
};

/* What a conditional request of a page may assume. */
enum page_state { PAGE_ABSENT, PAGE_MD5, PAGE_OPAQUE };

static const struct store_ops s3_ops;

/* The start-up probe: quick, one retry at most, about 8 s in all. */
static const struct s3_http_budget probe_budget = {
  .connect_timeout = 3, .request_timeout = 3, .retry_deadline = 8,
  .max_attempts = 2,
};

/* ---- The ETag table ---- */

static size_t
etag_slot (const struct s3_export *e, uint32_t page)
{
  uint32_t h = page * UINT32_C (0x9e3779b1);

  return (h ^ (h >> 15)) & (e->etags_cap - 1);
}

/* Parse an ETag "\"<32 hex>\"" (quotes optional) into MD5.  true if it
 * is one.
 */
static bool
etag_parse (const char *etag, uint8_t md5[16])
{
  size_t len = strlen (etag);

  if (len == 34 && etag[0] == '"' && etag[33] == '"') {
    etag++;
    len -= 2;
  }
  if (len != 32)
    return false;
  for (int i = 0; i < 16; ++i) {
    unsigned v;

    if (!isxdigit ((unsigned char) etag[2*i]) ||
        !isxdigit ((unsigned char) etag[2*i+1]) ||
        sscanf (etag + 2*i, "%2x", &v) != 1)
      return false;
    md5[i] = v;
  }
  return true;
}

static void
etag_format (const uint8_t md5[16], char out[35])
{
  out[0] = '"';
  for (int i = 0; i < 16; ++i)
    sprintf (out + 1 + 2*i, "%02x", md5[i]);
  out[33] = '"';
  out[34] = '\0';
}

/* Look PAGE up (with the lock held); NULL if absent. */
static struct etag_entry *
etag_find_locked (struct s3_export *e, uint32_t page)
{
  if (e->etags_cap == 0)
    return NULL;
  for (size_t i = etag_slot (e, page); e->etags[i].used;
       i = (i + 1) & (e->etags_cap - 1))
    if (e->etags[i].page == page)
      return &e->etags[i];
  return NULL;
}

/* What is known of PAGE; its ETag in IF_MATCH for PAGE_MD5. */
static enum page_state
etag_get (struct s3_export *e, uint32_t page, char if_match[35])
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&e->lock);
  struct etag_entry *en = etag_find_locked (e, page);

  if (en == NULL)
    return PAGE_ABSENT;
  if (!en->md5_known)
    return PAGE_OPAQUE;
  etag_format (en->md5, if_match);
  return PAGE_MD5;
}

/* Record that PAGE is stored with ETAG (as the server sent it; "" or not
 * an MD5: stored, ETag unknown).  0, or -1 after nbdkit_error.
 */
static int
etag_set (struct s3_export *e, uint32_t page, const char *etag)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&e->lock);
  struct etag_entry *en = etag_find_locked (e, page);

  if (en == NULL) {
    if ((e->netags + 1) * 4 > e->etags_cap * 3) {       /* grow at 3/4 */
      size_t ncap = e->etags_cap ? e->etags_cap * 2 : 1024;
      struct etag_entry *old = e->etags, *n = calloc (ncap, sizeof *n);
      size_t ocap = e->etags_cap;

      if (n == NULL) {
        nbdkit_error ("s3: out of memory");
        errno = ENOMEM;
        return -1;
      }
      e->etags = n;
      e->etags_cap = ncap;
      for (size_t i = 0; i < ocap; ++i) {
        size_t j;

        if (!old[i].used)
          continue;
        for (j = etag_slot (e, old[i].page); n[j].used;
             j = (j + 1) & (ncap - 1))
          ;
        n[j] = old[i];
      }
      free (old);
    }
    size_t j;
    for (j = etag_slot (e, page); e->etags[j].used;
         j = (j + 1) & (e->etags_cap - 1))
      ;
    en = &e->etags[j];
    en->used = true;
    en->page = page;
    e->netags++;
  }
  en->md5_known = etag_parse (etag, en->md5);
  return 0;
}

/* Forget PAGE (deleted, or found absent): backward-shift deletion. */
static void
etag_remove (struct s3_export *e, uint32_t page)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&e->lock);
  struct etag_entry *en = etag_find_locked (e, page);
  size_t mask = e->etags_cap - 1, i, j;

  if (en == NULL)
    return;
  i = en - e->etags;
  e->etags[i].used = false;
  e->netags--;
  for (j = (i + 1) & mask; e->etags[j].used; j = (j + 1) & mask) {
    size_t home = etag_slot (e, e->etags[j].page);

    /* Move J into the hole at I unless its home lies in (I, J]. */
    if (((j - home) & mask) >= ((j - i) & mask)) {
      e->etags[i] = e->etags[j];
      e->etags[j].used = false;
      i = j;
    }
  }
}

/* ---- Requests ---- */

static char *
export_key (struct s3_export *e, const char *leaf)
{
  char *key;

  if (asprintf (&key, "%s%s", e->prefix, leaf) == -1) {
    nbdkit_error ("s3: out of memory");
    return NULL;
  }
  return key;
}

/* GET KEY into BUF of LEN bytes.  1 if found (*GOT set to its length), 0
 * if NoSuchKey, -1 on error.
 */
static int
get_object (struct s3_store *s, const char *key, void *buf, size_t len,
            size_t *got, char etag[S3_HTTP_ETAG_MAX])
{
  struct s3_http_request req = {
    .method = "GET", .key = key, .resp_buf = buf, .resp_len = len,
    .missing_ok = true,
  };
  struct s3_http_response resp;

  if (s3_http_request (s->http, &req, &resp) == -1)
    return -1;
  *got = resp.body_len;
  if (etag)
    strcpy (etag, resp.etag);
  return resp.status == 404 ? 0 : 1;
}

static int
put_object (struct s3_store *s, const char *key, const void *buf, size_t len)
{
  struct s3_http_request req = {
    .method = "PUT", .key = key, .body = buf, .body_len = len,
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
static int
list_objects (struct s3_store *s, const char *prefix, const char *delimiter,
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
  /* Within exports/, so a policy that allows listing only there works. */
  const struct sigv4_pair query[] = {
    { "list-type", "2" }, { "max-keys", "1" },
    { "prefix", STORE_EXPORTS_DIR "/" },
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
      hint = s3_xml_error_explain (resp.err.code);
  }
  else if (s3_http_tls_error (resp.curl_code))
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

/* A common prefix exports/NAME/ of the listing: report NAME if valid and
 * it has metadata.
 */
static int
export_prefix (void *opaque, const char *prefix)
{
  struct exports_ctx *ctx = opaque;
  const size_t skip = strlen (STORE_EXPORTS_DIR "/");
  CLEANUP_FREE char *name = NULL, *key = NULL;
  char meta[STORE_META_MAX];
  size_t len = strlen (prefix), got;
  int r;

  if (len < skip + 2 || prefix[len - 1] != '/')
    return 0;
  name = strndup (prefix + skip, len - skip - 1);
  if (name == NULL || asprintf (&key, "%s" STORE_META_NAME, prefix) == -1) {
    key = NULL;
    nbdkit_error ("s3: out of memory");
    return -1;
  }
  if (!store_export_name_valid (name))
    return 0;
  r = get_object (ctx->s, key, meta, sizeof meta, &got, NULL);
  if (r <= 0)
    return r;
  return ctx->fn (ctx->opaque, name);
}

static int
s3_list_exports (struct store *st, int (*fn) (void *opaque, const char *name),
                 void *opaque)
{
  struct exports_ctx ctx = { (struct s3_store *) st, fn, opaque };

  return list_objects (ctx.s, STORE_EXPORTS_DIR "/", "/", NULL,
                       export_prefix, &ctx);
}

static void
s3_close_export (struct store_export *se)
{
  struct s3_export *e = (struct s3_export *) se;

  free (e->name);
  free (e->prefix);
  free (e->etags);
  pthread_mutex_destroy (&e->lock);
  free (e);
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
  pthread_mutex_init (&e->lock, NULL);
  e->name = strdup (name);
  if (e->name == NULL ||
      asprintf (&e->prefix, STORE_EXPORTS_DIR "/%s/", name) == -1) {
    e->prefix = NULL;
    nbdkit_error ("s3: out of memory");
    s3_close_export (&e->base);
    return NULL;
  }
  /* No single-writer guard yet: see the top of this file. */
  return &e->base;
}

static int
s3_read_meta (struct store_export *se, struct store_meta *meta)
{
  struct s3_export *e = (struct s3_export *) se;
  struct s3_store *s = (struct s3_store *) e->base.store;
  CLEANUP_FREE char *key = export_key (e, STORE_META_NAME), *where = NULL;
  char text[STORE_META_MAX];
  size_t len;
  int r;

  if (key == NULL)
    return -1;
  r = get_object (s, key, text, sizeof text, &len, NULL);
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
  CLEANUP_FREE char *key = export_key (e, STORE_META_NAME);
  char text[STORE_META_MAX];
  size_t len = store_meta_format (meta, text);

  /* Later, with the lease: If-None-Match: * so that two processes cannot
   * both create the export.
   */
  if (key == NULL)
    return -1;
  return put_object ((struct s3_store *) e->base.store, key, text, len);
}

struct pages_ctx {
  struct s3_export *e;
  int (*fn) (void *opaque, uint32_t page);
  void *opaque;
};

static int
page_object (void *opaque, const struct s3_list_object *obj)
{
  struct pages_ctx *ctx = opaque;
  size_t plen = strlen (ctx->e->prefix);
  uint32_t page;

  if (strncmp (obj->key, ctx->e->prefix, plen) != 0 ||
      !store_page_name_parse (obj->key + plen, &page))
    return 0;                   /* nbds3.meta, or not ours */
  if (etag_set (ctx->e, page, obj->etag) == -1)
    return -1;
  return ctx->fn (ctx->opaque, page);
}

static int
s3_list_pages (struct store_export *se,
               int (*fn) (void *opaque, uint32_t page), void *opaque)
{
  struct s3_export *e = (struct s3_export *) se;
  struct pages_ctx ctx = { e, fn, opaque };

  return list_objects ((struct s3_store *) e->base.store, e->prefix, NULL,
                       page_object, NULL, &ctx);
}

static int
s3_read_page (struct store_export *se, uint32_t page, void *buf, size_t len)
{
  struct s3_export *e = (struct s3_export *) se;
  struct s3_store *s = (struct s3_store *) e->base.store;
  char leaf[STORE_PAGE_NAME_LEN + 1];
  CLEANUP_FREE char *key = NULL;
  char etag[S3_HTTP_ETAG_MAX];
  size_t got;
  int r;

  snprintf (leaf, sizeof leaf, STORE_PAGE_NAME_FMT, page);
  if ((key = export_key (e, leaf)) == NULL)
    return -1;
  r = get_object (s, key, buf, len, &got, etag);
  if (r == 1 && got != len) {
    nbdkit_error ("S3 object s3://%s/%s is %zu bytes, expected %zu: "
                  "the export is damaged", s->bucket, key, got, len);
    errno = EIO;
    return -1;
  }
  if (r == 1 && etag_set (e, page, etag) == -1)
    return -1;
  if (r == 0)
    etag_remove (e, page);
  return r;
}

/* After a 412 on KEY: HEAD it and record what it holds now.  1 if
 * stored (its ETag in ETAG), 0 if absent, -1 on error.
 */
static int
refresh_etag (struct s3_export *e, uint32_t page, const char *key,
              char etag[S3_HTTP_ETAG_MAX])
{
  struct s3_store *s = (struct s3_store *) e->base.store;
  struct s3_http_request req = {
    .method = "HEAD", .key = key, .missing_ok = true,
  };
  struct s3_http_response resp;

  if (s3_http_request (s->http, &req, &resp) == -1)
    return -1;
  free (resp.body);
  if (resp.status == 404) {
    etag_remove (e, page);
    return 0;
  }
  strcpy (etag, resp.etag);
  return etag_set (e, page, etag) == -1 ? -1 : 1;
}

/* The ETag a single-part PUT of BUF (LEN bytes) gives, its MD5, into
 * WANT unless it is there already.  Only needed after a 412 or when a
 * server sends no ETag: at 4M a page, MD5 costs more CPU than the
 * SHA-256 that signs the payload.  0, or -1 after nbdkit_error.
 */
static int
want_etag (const void *buf, size_t len, char want[35])
{
  uint8_t md5[EVP_MAX_MD_SIZE];

  if (want[0])
    return 0;
  if (EVP_Digest (buf, len, md5, NULL, EVP_md5 (), NULL) != 1) {
    nbdkit_error ("s3: cannot compute the MD5 of a page");
    errno = EIO;
    return -1;
  }
  etag_format (md5, want);
  return 0;
}

/* Send the conditional mutation METHOD ("PUT" with BUF of LEN bytes, or
 * "DELETE") of PAGE, as the top of this file explains: at most two
 * requests, with a HEAD after each 412.
 */
static int
mutate_page (struct s3_export *e, uint32_t page, const char *method,
             const void *buf, size_t len)
{
  struct s3_store *s = (struct s3_store *) e->base.store;
  const bool put = strcmp (method, "PUT") == 0;
  char leaf[STORE_PAGE_NAME_LEN + 1], want[35] = "", known[35];
  char now[S3_HTTP_ETAG_MAX];
  CLEANUP_FREE char *key = NULL;

  snprintf (leaf, sizeof leaf, STORE_PAGE_NAME_FMT, page);
  if ((key = export_key (e, leaf)) == NULL)
    return -1;

  for (int round = 0, flipped = 0; round < 2 + flipped; ++round) {
    struct s3_http_request req = {
      .method = method, .key = key, .body = buf, .body_len = len,
      .missing_ok = !put,
    };
    struct s3_http_response resp;
    enum page_state st = etag_get (e, page, known);
    char sent[35] = "";
    int r;

    if (st == PAGE_MD5) {
      strcpy (sent, known);                     /* "hex", quoted */
      if (__atomic_load_n (&s->quote_etags, __ATOMIC_RELAXED))
        req.if_match = known;
      else {
        known[33] = '\0';
        req.if_match = known + 1;               /* bare hex */
      }
    }
    else if (st == PAGE_ABSENT && put)
      req.if_none_match = true;
    r = s3_http_request (s->http, &req, &resp);
    free (resp.body);
    if (r == 0) {
      if (!put) {
        etag_remove (e, page);
        return 0;
      }
      if (resp.etag[0])
        return etag_set (e, page, resp.etag);
      if (want_etag (buf, len, want) == -1)
        return -1;
      return etag_set (e, page, want);
    }
    if (errno != EAGAIN)
      return -1;
    /* 412: the object changed behind our back. */
    nbdkit_debug ("s3: %s %s: precondition failed (%s %s)", method, key,
                  req.if_match ? "If-Match" : "If-None-Match",
                  req.if_match ? req.if_match : "*");
    r = refresh_etag (e, page, key, now);
    if (r == -1)
      return -1;
    if (!put && r == 0)
      return 0;                 /* already gone */
    if (put && r == 1) {
      if (want_etag (buf, len, want) == -1)
        return -1;
      if (strcmp (now, want) == 0)
        return 0;               /* one of our attempts landed: done */
    }
    if (req.if_match && r == 1 && strcmp (now, sent) == 0 && !flipped) {
      /* Refused although it named the current ETag: the server reads
       * If-Match in the other form.
       */
      bool q = !__atomic_load_n (&s->quote_etags, __ATOMIC_RELAXED);

      __atomic_store_n (&s->quote_etags, q, __ATOMIC_RELAXED);
      nbdkit_debug ("s3: If-Match with %s ETags from now on",
                    q ? "quoted" : "bare");
      flipped = 1;
    }
  }
  nbdkit_error ("S3 %s s3://%s/%s: the object changed again while it was "
                "being written (412 Precondition Failed twice): is another "
                "process writing to this export?", method, s->bucket, key);
  errno = EIO;
  return -1;
}

static int
s3_write_page (struct store_export *se, uint32_t page,
               const void *buf, size_t len)
{
  return mutate_page ((struct s3_export *) se, page, "PUT", buf, len);
}

static int
s3_delete_page (struct store_export *se, uint32_t page)
{
  return mutate_page ((struct s3_export *) se, page, "DELETE", NULL, 0);
}

static void
s3_free (struct store *st)
{
  struct s3_store *s = (struct s3_store *) st;

  s3_http_free (s->http);
  free (s->bucket);
  free (s->endpoint);
  free (s);
  s3_http_global_cleanup ();
}

static void
s3_cancel (struct store *st)
{
  struct s3_store *s = (struct s3_store *) st;

  nbdkit_debug ("s3: cancelling retries");
  s3_http_cancel (s->http);
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
};

struct store *
store_s3_new (const struct s3_config *cfg)
{
  struct s3_store *s;
  struct s3_http_config hc = {
    .endpoint = cfg->endpoint, .bucket = cfg->bucket, .region = cfg->region,
    .access_key = cfg->access_key, .secret_key = cfg->secret_key,
    .session_token = cfg->session_token, .tls_verify = cfg->tls_verify,
    .ca_file = cfg->ca_file, .connect_timeout = cfg->connect_timeout,
    .request_timeout = cfg->request_timeout,
    .retry_deadline = cfg->retry_deadline, .connections = cfg->connections,
  };

  if (s3_http_global_init () == -1)
    return NULL;
  s = calloc (1, sizeof *s);
  if (s == NULL) {
    nbdkit_error ("s3: out of memory");
    s3_http_global_cleanup ();
    return NULL;
  }
  s->base.ops = &s3_ops;
  if (cfg->endpoint)
    s->endpoint = strdup (cfg->endpoint);
  else if (asprintf (&s->endpoint, AWS_ENDPOINT_FMT, cfg->region) == -1)
    s->endpoint = NULL;
  s->bucket = strdup (cfg->bucket);
  if (s->endpoint == NULL || s->bucket == NULL) {
    nbdkit_error ("s3: out of memory");
    goto err;
  }
  hc.endpoint = s->endpoint;
  switch (cfg->addressing) {
  case S3_ADDRESSING_AUTO:
    /* AWS: virtual-hosted, except for dotted names, which break TLS. */
    hc.virtual_hosted = cfg->endpoint == NULL &&
      strchr (cfg->bucket, '.') == NULL;
    break;
  case S3_ADDRESSING_PATH:
    hc.virtual_hosted = false;
    break;
  case S3_ADDRESSING_VIRTUAL:
    hc.virtual_hosted = true;
    break;
  }
  s->http = s3_http_new (&hc);
  if (s->http == NULL)
    goto err;
  return &s->base;

 err:
  s3_free (&s->base);
  return NULL;
}
