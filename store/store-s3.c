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
 * - No single-writer guard yet: open_export only allocates.  The S3 lease
 *   (a conditional PUT of a lease object, renewed while the export is
 *   open) is a later step; until then two nbdkit processes must not serve
 *   the same export of one bucket.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
};

struct s3_export {
  struct store_export base;
  char *name;
  char *prefix;                 /* exports/NAME/ */
};

static const struct store_ops s3_ops;

/* The start-up probe: quick, one retry at most, about 8 s in all. */
static const struct s3_http_budget probe_budget = {
  .connect_timeout = 3, .request_timeout = 3, .retry_deadline = 8,
  .max_attempts = 2,
};

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
            size_t *got)
{
  struct s3_http_request req = {
    .method = "GET", .key = key, .resp_buf = buf, .resp_len = len,
    .missing_ok = true,
  };
  struct s3_http_response resp;

  if (s3_http_request (s->http, &req, &resp) == -1)
    return -1;
  *got = resp.body_len;
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
              int (*object_fn) (void *opaque, const char *key),
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
        r = object_fn (opaque, list.objects[i].key);
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
  r = get_object (ctx->s, key, meta, sizeof meta, &got);
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
  r = get_object (s, key, text, sizeof text, &len);
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
page_object (void *opaque, const char *key)
{
  struct pages_ctx *ctx = opaque;
  size_t plen = strlen (ctx->e->prefix);
  uint32_t page;

  if (strncmp (key, ctx->e->prefix, plen) != 0 ||
      !store_page_name_parse (key + plen, &page))
    return 0;                   /* nbds3.meta, or not ours */
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
  size_t got;
  int r;

  snprintf (leaf, sizeof leaf, STORE_PAGE_NAME_FMT, page);
  if ((key = export_key (e, leaf)) == NULL)
    return -1;
  r = get_object (s, key, buf, len, &got);
  if (r == 1 && got != len) {
    nbdkit_error ("S3 object s3://%s/%s is %zu bytes, expected %zu: "
                  "the export is damaged", s->bucket, key, got, len);
    errno = EIO;
    return -1;
  }
  return r;
}

static int
s3_write_page (struct store_export *se, uint32_t page,
               const void *buf, size_t len)
{
  struct s3_export *e = (struct s3_export *) se;
  char leaf[STORE_PAGE_NAME_LEN + 1];
  CLEANUP_FREE char *key = NULL;

  snprintf (leaf, sizeof leaf, STORE_PAGE_NAME_FMT, page);
  if ((key = export_key (e, leaf)) == NULL)
    return -1;
  return put_object ((struct s3_store *) e->base.store, key, buf, len);
}

static int
s3_delete_page (struct store_export *se, uint32_t page)
{
  struct s3_export *e = (struct s3_export *) se;
  struct s3_store *s = (struct s3_store *) e->base.store;
  char leaf[STORE_PAGE_NAME_LEN + 1];
  CLEANUP_FREE char *key = NULL;
  struct s3_http_request req = { .method = "DELETE", .missing_ok = true };
  struct s3_http_response resp;
  int r;

  snprintf (leaf, sizeof leaf, STORE_PAGE_NAME_FMT, page);
  if ((key = export_key (e, leaf)) == NULL)
    return -1;
  req.key = key;
  r = s3_http_request (s->http, &req, &resp);         /* 204 or NoSuchKey */
  free (resp.body);
  return r;
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
