/* SPDX-License-Identifier: MIT
 *
 * S3 over HTTP with libcurl: this file owns the pool of curl easy handles,
 * the one retry loop, and s3_http_describe, the line that says why a
 * request failed.  What an outcome means (errno, whether to retry, the
 * backoff, the words for S3 error codes) is s3-error.c's, where a request
 * goes is s3-url.c's, parsing Error bodies is s3-xml.c's, and parsing
 * the response headers it keeps (ETag, x-amz-meta-*) is s3-headers.c's.
 *
 * - The pool holds at most CONNECTIONS handles, created on demand and
 *   reused (curl_easy_reset keeps their live connections, so requests
 *   reuse keep-alive connections); a caller waits for a free handle.
 * - Every attempt is built afresh on its handle: new x-amz-date and
 *   signature, the body rewound.  The payload hash is computed once per
 *   request, or not at all when bodies go as UNSIGNED-PAYLOAD
 *   (payload-signing=; by default over https only).  Only s3_error_classify decides what is retried; waits are
 *   s3_error_backoff_ms (capped exponential backoff) with jitter drawn
 *   here, within the retry deadline, sleeping on a condition variable
 *   (CLOCK_MONOTONIC) that s3_http_cancel interrupts.  Cancel also aborts
 *   transfers in flight (from curl's progress callback).
 * - A successful body goes straight into the caller's buffer, bound
 *   checked; an error body goes to a separate buffer (at most
 *   S3_HTTP_ERROR_BODY_MAX) and is parsed as an S3 Error.
 * - Debug output (-D nbds3.s3=1): method, key, status, attempt, time.
 *   Never a header, a secret or a token.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include <nbdkit-plugin.h>

#include "cleanup.h"
#include "clock.h"
#include "debug.h"
#include "s3-credentials.h"
#include "s3-error.h"
#include "s3-http.h"
#include "s3-settings.h"
#include "s3-url.h"
#include "s3-xml.h"
#include "text.h"

#define AWS_ENDPOINT_FMT "https://s3.%s.amazonaws.com"
#define EMPTY_SHA256 \
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct s3_http {
  struct s3_config cfg;         /* our copy; endpoint always set */
  bool virtual_hosted;          /* bucket in the host name, not the path */
  bool unsigned_payload;        /* bodies sent as UNSIGNED-PAYLOAD */
  pthread_mutex_t lock;         /* guards the pool and cancelled */
  pthread_cond_t freed;         /* a handle returned to the pool */
  pthread_cond_t wake;          /* cancelled: retry waits end (monotonic) */
  CURL **pool;                  /* npool idle handles */
  unsigned npool, ncreated;
  bool cancelled;               /* also read without the lock (atomic) */
  /* A redirect to the bucket's region, followed once (follow_region):
   * cfg.region and cfg.endpoint are then replaced (atomic stores; the
   * old strings stay here until s3_http_free, as a request may still
   * read them).  Guarded by lock.
   */
  bool followed;
  char *old_region, *old_endpoint;
};

/* One request in progress. */
struct xfer {
  struct s3_http *h;
  const struct s3_http_request *req;
  struct s3_http_response *resp;
  struct s3_creds_value *creds; /* what this attempt is signed with */
  CURL *c;
  size_t sent;                  /* upload position */
  char *errbody;                /* error body of this attempt */
  size_t errlen;
  size_t cap;                   /* allocated size of resp->body */
};

static uint64_t jitter_state;   /* atomic: splitmix64 sequence */

_Static_assert (sizeof ((struct s3_http_response *) 0)->curl_msg >=
                CURL_ERROR_SIZE, "curl_msg is curl's error buffer");

/* Now, in monotonic milliseconds. */
static int64_t
now_ms (void)
{
  return clock_now_ns () / NS_PER_MS;
}

static uint32_t
jitter (void)
{
  uint64_t z = __atomic_add_fetch (&jitter_state,
                                   UINT64_C (0x9e3779b97f4a7c15),
                                   __ATOMIC_RELAXED);

  z = (z ^ (z >> 30)) * UINT64_C (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C (0x94d049bb133111eb);
  return (uint32_t) (z ^ (z >> 31));
}

/* ---- The handle pool ---- */

/* curl's receive and send buffers, per handle (its defaults are 16k and
 * 64k), set after every curl_easy_reset.
 */
#define HTTP_BUFFER_SIZE (256L * 1024)

static CURL *
pool_get (struct s3_http *h)
{
  CURL *c = NULL;
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&h->lock);

  while (h->npool == 0 && h->ncreated >= h->cfg.connections &&
         !h->cancelled)
    pthread_cond_wait (&h->freed, &h->lock);
  if (h->cancelled) {
    errno = ESHUTDOWN;
    return NULL;
  }
  if (h->npool > 0)
    return h->pool[--h->npool];
  c = curl_easy_init ();
  if (c == NULL) {
    nbdkit_error ("s3: cannot create a curl handle");
    return NULL;
  }
  h->ncreated++;
  return c;
}

static void
pool_put (struct s3_http *h, CURL *c)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&h->lock);

  h->pool[h->npool++] = c;
  pthread_cond_signal (&h->freed);
}

/* ---- curl callbacks ---- */

static size_t
read_cb (char *ptr, size_t size, size_t nmemb, void *opaque)
{
  struct xfer *x = opaque;
  size_t n = x->req->body_len - x->sent;

  if (n > size * nmemb)
    n = size * nmemb;
  memcpy (ptr, (const char *) x->req->body + x->sent, n);
  x->sent += n;
  return n;
}

/* curl rewinds by itself when it resends on a reused connection. */
static int
seek_cb (void *opaque, curl_off_t offset, int origin)
{
  struct xfer *x = opaque;

  if (origin != SEEK_SET || offset < 0 ||
      (uint64_t) offset > x->req->body_len)
    return CURL_SEEKFUNC_CANTSEEK;
  x->sent = offset;
  return CURL_SEEKFUNC_OK;
}

static size_t
write_cb (char *ptr, size_t size, size_t nmemb, void *opaque)
{
  struct xfer *x = opaque;
  struct s3_http_response *resp = x->resp;
  size_t n = size * nmemb;
  long status = 0;

  curl_easy_getinfo (x->c, CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || status > 299) {
    size_t keep = S3_HTTP_ERROR_BODY_MAX - x->errlen;

    if (x->errbody == NULL &&
        (x->errbody = malloc (S3_HTTP_ERROR_BODY_MAX)) == NULL)
      return 0;
    if (keep > n)
      keep = n;
    memcpy (x->errbody + x->errlen, ptr, keep);
    x->errlen += keep;
    return n;                   /* the rest is dropped */
  }

  if (x->req->resp_buf) {
    if (n > x->req->resp_len - resp->body_len) {
      resp->too_long = true;
      return 0;                 /* CURLE_WRITE_ERROR */
    }
    memcpy ((char *) x->req->resp_buf + resp->body_len, ptr, n);
  }
  else {
    if (n > S3_HTTP_ALLOC_MAX - resp->body_len) {
      resp->too_long = true;
      return 0;
    }
    if (resp->body_len + n > x->cap) {
      size_t cap = x->cap ? x->cap : 64 * 1024;
      char *p;

      while (cap < resp->body_len + n)
        cap *= 2;
      if ((p = realloc (resp->body, cap)) == NULL)
        return 0;
      resp->body = p;
      x->cap = cap;
    }
    memcpy (resp->body + resp->body_len, ptr, n);
  }
  resp->body_len += n;
  return n;
}

/* Keep the ETag and the user metadata of the response
 * (s3_http_header_line, s3-headers.c).
 */
static size_t
header_cb (char *ptr, size_t size, size_t nmemb, void *opaque)
{
  struct xfer *x = opaque;
  size_t n = size * nmemb;

  s3_http_header_line (x->resp, ptr, n);
  return n;
}

const char *
s3_http_endpoint (const struct s3_http *h)
{
  return __atomic_load_n (&h->cfg.endpoint, __ATOMIC_ACQUIRE);
}

const char *
s3_http_bucket (const struct s3_http *h)
{
  return h->cfg.bucket;
}

static int
progress_cb (void *opaque, curl_off_t dltotal, curl_off_t dlnow,
             curl_off_t ultotal, curl_off_t ulnow)
{
  struct xfer *x = opaque;

  return __atomic_load_n (&x->h->cancelled, __ATOMIC_RELAXED);
}

/* ---- One attempt ---- */

/* Header lines may carry the session token: wipe them before freeing. */
static void
free_headers (struct curl_slist *list)
{
  for (struct curl_slist *l = list; l; l = l->next)
    OPENSSL_cleanse (l->data, strlen (l->data));
  curl_slist_free_all (list);
}

static struct curl_slist *
add_header (struct curl_slist *list, bool *ok, const char *fmt, ...)
{
  struct curl_slist *l = NULL;
  char *line = NULL;
  va_list args;
  int n;

  if (!*ok)
    return list;
  va_start (args, fmt);
  n = vasprintf (&line, fmt, args);
  va_end (args);
  if (n >= 0) {
    l = curl_slist_append (list, line);
    OPENSSL_cleanse (line, n);
    free (line);
  }
  if (l == NULL) {
    *ok = false;
    return list;
  }
  return l;
}

/* The x-amz-* headers of a PUT of an object that the client's settings
 * ask for, into OUT (room for 3): SSE on every object, the storage class
 * where REQ asks for it.  S3 takes them on PUT only.  Returns how many.
 */
static size_t
object_headers (const struct s3_http *h, const struct s3_http_request *req,
                struct sigv4_pair *out)
{
  size_t n = 0;

  if (strcmp (req->method, "PUT") != 0 || req->key == NULL)
    return 0;
  if (h->cfg.sse)
    out[n++] = (struct sigv4_pair) {
      "x-amz-server-side-encryption", h->cfg.sse
    };
  if (h->cfg.sse_kms_key_id)
    out[n++] = (struct sigv4_pair) {
      "x-amz-server-side-encryption-aws-kms-key-id", h->cfg.sse_kms_key_id
    };
  if (h->cfg.storage_class && req->storage_class)
    out[n++] = (struct sigv4_pair) {
      "x-amz-storage-class", h->cfg.storage_class
    };
  return n;
}

/* The value of x-amz-copy-source for the raw KEY of H's bucket:
 * "/BUCKET/KEY", URL-encoded ('/' kept).  NULL when out of memory.
 */
static char *
copy_source_header (const struct s3_http *h, const char *key)
{
  CLEANUP_FREE char *raw = NULL;
  char *out;
  size_t cap;

  if (asprintf (&raw, "/%s/%s", h->cfg.bucket, key) == -1)
    return NULL;
  cap = SIGV4_URI_ENCODE_SIZE (strlen (raw));
  out = malloc (cap);
  if (out && sigv4_uri_encode (raw, false, out, cap) == -1) {
    free (out);
    out = NULL;
  }
  return out;
}

/* The headers of a CopyObject REQ (copy_source set) into OUT (room for
 * 4), the source's encoded as SOURCE: see s3-http.h.  Returns how many.
 */
static size_t
copy_headers (const struct s3_http_request *req, const char *source,
              struct sigv4_pair *out)
{
  size_t n = 0;

  out[n++] = (struct sigv4_pair) { "x-amz-copy-source", source };
  out[n++] = (struct sigv4_pair) { "x-amz-metadata-directive", "COPY" };
  if (req->copy_if_match) {
    out[n++] = (struct sigv4_pair) {
      "x-amz-copy-source-if-match", req->copy_if_match
    };
    out[n++] = (struct sigv4_pair) {
      "x-amz-copy-if-match", req->copy_if_match
    };
  }
  return n;
}

/* Sign and perform one attempt of X to T.  Returns the CURLcode; a
 * failure to build the request is CURLE_OUT_OF_MEMORY.
 */
static CURLcode
attempt (struct xfer *x, const struct s3_url_target *t,
         const char *payload_hash, long connect_ms, long timeout_ms)
{
  struct s3_http *h = x->h;
  const struct s3_http_request *req = x->req;
  char meta_names[S3_HTTP_META_COUNT][S3_HTTP_META_NAME_MAX + 16];
  struct sigv4_pair signed_headers[2 + S3_HTTP_META_COUNT + 3 + 4] = {
    { "host", t->host },
    { "x-amz-content-sha256", payload_hash },
  };
  struct sigv4_request sr = {
    .mode = SIGV4_HEADER, .method = req->method, .path = t->path,
    .query = req->query, .nquery = req->nquery,
    .headers = signed_headers, .nheaders = 2, .payload_hash = payload_hash,
  };
  struct sigv4_credentials creds = {
    x->creds->access_key, x->creds->secret_key, x->creds->session_token,
  };
  struct sigv4_result sig;
  struct curl_slist *headers = NULL;
  CLEANUP_FREE char *url = NULL, *copy_source = NULL;
  CURL *c = x->c;
  CURLcode cc = CURLE_OUT_OF_MEMORY;
  bool ok = true;

  x->sent = 0;
  x->errlen = 0;
  x->resp->body_len = 0;
  x->resp->too_long = false;
  x->resp->curl_msg[0] = '\0';
  x->resp->etag[0] = '\0';
  x->resp->content_length = -1;
  x->resp->bucket_region[0] = '\0';
  x->resp->nmeta = 0;

  for (size_t i = 0; i < req->nmeta && i < S3_HTTP_META_COUNT; ++i) {
    snprintf (meta_names[i], sizeof meta_names[i], "x-amz-meta-%s",
              req->meta[i].name);
    signed_headers[sr.nheaders++] = (struct sigv4_pair) {
      meta_names[i], req->meta[i].value
    };
  }
  sr.nheaders += object_headers (h, req, signed_headers + sr.nheaders);
  if (req->copy_source) {
    if ((copy_source = copy_source_header (h, req->copy_source)) == NULL)
      return CURLE_OUT_OF_MEMORY;
    sr.nheaders += copy_headers (req, copy_source,
                                 signed_headers + sr.nheaders);
  }
  /* (follow_region may switch the region: an atomic load.) */
  if (sigv4_sign (&sr, &creds, __atomic_load_n (&h->cfg.region,
                                                __ATOMIC_ACQUIRE),
                  "s3", time (NULL), &sig) == -1)
    return CURLE_OUT_OF_MEMORY;
  if (asprintf (&url, "%s%s%s", t->url, *sig.query ? "?" : "",
                sig.query) == -1) {
    url = NULL;
    goto out;
  }
  headers = add_header (headers, &ok, "Host: %s", t->host);
  headers = add_header (headers, &ok, "x-amz-content-sha256: %s",
                        payload_hash);
  headers = add_header (headers, &ok, "x-amz-date: %s", sig.amz_date);
  headers = add_header (headers, &ok, "Authorization: %s", sig.authorization);
  if (creds.session_token)
    headers = add_header (headers, &ok, "x-amz-security-token: %s",
                          creds.session_token);
  headers = add_header (headers, &ok, "Expect:");
  for (size_t i = 2; i < sr.nheaders; ++i)
    headers = add_header (headers, &ok, "%s: %s", signed_headers[i].name,
                          signed_headers[i].value);
  if (req->if_match)
    headers = add_header (headers, &ok, "If-Match: %s", req->if_match);
  if (req->if_none_match)
    headers = add_header (headers, &ok, "If-None-Match: *");
  if (req->content_md5) {
    headers = add_header (headers, &ok, "Content-MD5: %s", req->content_md5);
    headers = add_header (headers, &ok, "Content-Type: application/xml");
  }
  if (!ok)
    goto out;

  curl_easy_reset (c);
  curl_easy_setopt (c, CURLOPT_URL, url);
  curl_easy_setopt (c, CURLOPT_NOSIGNAL, 1L);
  /* Pages are large: fewer, larger socket reads and writes. */
  curl_easy_setopt (c, CURLOPT_BUFFERSIZE, HTTP_BUFFER_SIZE);
  curl_easy_setopt (c, CURLOPT_UPLOAD_BUFFERSIZE, HTTP_BUFFER_SIZE);
  curl_easy_setopt (c, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt (c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt (c, CURLOPT_ERRORBUFFER, x->resp->curl_msg);
  curl_easy_setopt (c, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
  curl_easy_setopt (c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt (c, CURLOPT_SSL_VERIFYPEER, h->cfg.tls_verify ? 1L : 0L);
  curl_easy_setopt (c, CURLOPT_SSL_VERIFYHOST, h->cfg.tls_verify ? 2L : 0L);
  if (h->cfg.ca_file)
    curl_easy_setopt (c, CURLOPT_CAINFO, h->cfg.ca_file);
  curl_easy_setopt (c, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt (c, CURLOPT_WRITEDATA, x);
  curl_easy_setopt (c, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt (c, CURLOPT_HEADERDATA, x);
  curl_easy_setopt (c, CURLOPT_XFERINFOFUNCTION, progress_cb);
  curl_easy_setopt (c, CURLOPT_XFERINFODATA, x);
  curl_easy_setopt (c, CURLOPT_NOPROGRESS, 0L);
  if (strcmp (req->method, "PUT") == 0 || strcmp (req->method, "POST") == 0) {
    if (strcmp (req->method, "PUT") == 0) {
      curl_easy_setopt (c, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt (c, CURLOPT_INFILESIZE_LARGE,
                        (curl_off_t) req->body_len);
    }
    else {
      curl_easy_setopt (c, CURLOPT_POST, 1L);
      curl_easy_setopt (c, CURLOPT_POSTFIELDSIZE_LARGE,
                        (curl_off_t) req->body_len);
    }
    curl_easy_setopt (c, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt (c, CURLOPT_READDATA, x);
    curl_easy_setopt (c, CURLOPT_SEEKFUNCTION, seek_cb);
    curl_easy_setopt (c, CURLOPT_SEEKDATA, x);
  }
  else if (strcmp (req->method, "HEAD") == 0)
    curl_easy_setopt (c, CURLOPT_NOBODY, 1L);
  else if (strcmp (req->method, "GET") != 0)
    curl_easy_setopt (c, CURLOPT_CUSTOMREQUEST, req->method);

  cc = curl_easy_perform (c);
  x->resp->status = 0;
  curl_easy_getinfo (c, CURLINFO_RESPONSE_CODE, &x->resp->status);
  /* Forget pointers to this attempt's stack. */
  curl_easy_setopt (c, CURLOPT_HTTPHEADER, NULL);
  curl_easy_setopt (c, CURLOPT_ERRORBUFFER, NULL);

 out:
  free_headers (headers);
  sigv4_result_free (&sig);
  return cc;
}

/* ---- The retry loop ---- */

/* After RESP's answer that the bucket lives in another region: switch H
 * to that region, once, if it may (s3_settings_may_follow), rebuilding
 * the AWS endpoint for it.  true if the request should be sent again.
 */
static bool
follow_region (struct s3_http *h, const struct s3_http_response *resp)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&h->lock);
  const char *region =
    s3_settings_reported_region (&h->cfg, resp->status, resp->err.code,
                                 resp->bucket_region, resp->err.region);
  char *r = NULL, *e = NULL;

  if (region == NULL)           /* none, or already switched to it */
    return resp->status == 301 && h->followed;
  if (h->followed || !s3_settings_may_follow (&h->cfg, region))
    return false;
  if ((r = strdup (region)) == NULL ||
      asprintf (&e, AWS_ENDPOINT_FMT, region) == -1) {
    free (r);
    return false;
  }
  nbdkit_debug ("s3: bucket %s is in region %s, not %s: following, at %s",
                h->cfg.bucket, r, h->cfg.region, e);
  h->followed = true;
  h->old_region = h->cfg.region;
  h->old_endpoint = h->cfg.endpoint;
  __atomic_store_n (&h->cfg.region, r, __ATOMIC_RELEASE);
  __atomic_store_n (&h->cfg.endpoint, e, __ATOMIC_RELEASE);
  return true;
}

/* Wait MS milliseconds unless cancelled first.  true if cancelled. */
static bool
wait_or_cancel (struct s3_http *h, unsigned ms)
{
  const int64_t deadline = clock_now_ns () + ms * NS_PER_MS;
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&h->lock);

  while (!h->cancelled &&
         clock_cond_wait (&h->wake, &h->lock, deadline) != ETIMEDOUT)
    ;
  return h->cancelled;
}

/* Words naming the region S3 reported in RESP, into BUF, or "". */
static const char *
region_hint (const struct s3_http *h, const struct s3_http_response *resp,
             char *buf, size_t len)
{
  const char *region =
    s3_settings_reported_region (&h->cfg, resp->status, resp->err.code,
                                 resp->bucket_region, resp->err.region);

  if (region == NULL)
    return "";
  snprintf (buf, len, "; S3 says bucket %s is in region %s, not %s: set "
            "region=%s%s", h->cfg.bucket, region, h->cfg.region, region,
            s3_settings_endpoint_is_aws (h->cfg.endpoint) ? ""
            : " and an endpoint= that serves it");
  return buf;
}

char *
s3_http_describe (const struct s3_http *h, const struct s3_http_request *req,
                  const struct s3_http_response *resp, char *buf, size_t len)
{
  char resource[512], line[S3_ERROR_DESCRIBE_MAX], tries[96] = "";
  char hint[256];

  if (req->key)
    snprintf (resource, sizeof resource, "%s", req->key);
  else
    snprintf (resource, sizeof resource, "bucket %s", h->cfg.bucket);
  if (resp->attempts > 1)
    snprintf (tries, sizeof tries, " (%u attempts in %.1f s)",
              resp->attempts, resp->ms / 1000.0);

  if (resp->past_not_after)
    snprintf (buf, len, "S3 %s %s: not sent: this server's lease of the "
              "export could run out before it ended%s", req->method,
              resource, tries);
  else if (resp->too_long)
    snprintf (buf, len, "S3 %s %s: the response is longer than the %zu "
              "bytes expected", req->method, resource,
              req->resp_buf ? req->resp_len : (size_t) S3_HTTP_ALLOC_MAX);
  else if (resp->curl_code == CURLE_ABORTED_BY_CALLBACK)
    snprintf (buf, len, "S3 %s %s: given up: nbdkit is shutting down%s",
              req->method, resource, tries);
  else if (resp->cancelled) {
    struct s3_http_response last = *resp;

    last.cancelled = false;
    last.attempts = 0;
    snprintf (buf, len, "given up retrying (nbdkit is shutting down) "
              "after %u attempts: %s", resp->attempts,
              s3_http_describe (h, req, &last, line, sizeof line));
  }
  else if (resp->curl_code != CURLE_OK)
    snprintf (buf, len, "S3 %s %s: %s: %s%s", req->method, resource,
              curl_easy_strerror (resp->curl_code),
              resp->curl_msg[0] ? resp->curl_msg : "no details", tries);
  else if (s3_error_is_refused_token (resp->status, resp->err.code,
                                      resp->temporary_credentials))
    snprintf (buf, len, "%s%s: the credentials came from %s, %s",
              s3_error_describe (req->method, resource, resp->status,
                                 &resp->err, line, sizeof line),
              tries, s3_creds_name (h->cfg.creds),
              s3_creds_renewable (h->cfg.creds)
              ? "renewed once and refused again: check the source"
              : "which cannot renew them: give new ones and restart nbdkit");
  else
    snprintf (buf, len, "%s%s%s", s3_error_describe (req->method, resource,
                                                     resp->status, &resp->err,
                                                     line, sizeof line),
              tries, region_hint (h, resp, hint, sizeof hint));
  return buf;
}

int
s3_http_request (struct s3_http *h, const struct s3_http_request *req,
                 struct s3_http_response *resp)
{
  const struct s3_http_budget *b = req->budget;
  unsigned connect_s = b && b->connect_timeout ? b->connect_timeout
    : h->cfg.connect_timeout;
  unsigned request_s = b && b->request_timeout ? b->request_timeout
    : h->cfg.request_timeout;
  unsigned deadline_s = b && b->retry_deadline ? b->retry_deadline
    : h->cfg.retry_deadline;
  unsigned max_attempts = b ? b->max_attempts : 0;
  struct xfer x = { .h = h, .req = req, .resp = resp };
  struct s3_url_target t = { 0 };
  char hash[SIGV4_HEX_SIZE] = EMPTY_SHA256;
  const int64_t start = now_ms (), deadline = start + deadline_s * 1000LL;
  bool renewed = false;         /* after a refused token, once */
  int err = EIO, r = -1;
  bool again = true;            /* one more try in the bucket's region */

  memset (resp, 0, sizeof *resp);
  if (__atomic_load_n (&h->cancelled, __ATOMIC_RELAXED)) {
    resp->cancelled = true;
    errno = ESHUTDOWN;
    return -1;
  }
 send:
  if (s3_url_target (__atomic_load_n (&h->cfg.endpoint, __ATOMIC_ACQUIRE),
                     h->cfg.bucket, h->virtual_hosted, req->key, &t) == -1) {
    errno = EIO;
    return -1;
  }
  if (req->body_len > 0 && h->unsigned_payload)
    strcpy (hash, SIGV4_UNSIGNED_PAYLOAD);
  else if (req->body_len > 0 &&
           sigv4_sha256_hex (req->body, req->body_len, hash) == -1) {
    nbdkit_error ("s3: cannot hash the request body");
    goto out;
  }
  if ((x.c = pool_get (h)) == NULL)
    goto out;

  for (;;) {
    int64_t t0 = now_ms (), left = deadline - t0;
    long timeout_ms = request_s * 1000L, connect_ms = connect_s * 1000L;
    unsigned wait_ms;
    bool retry;
    CURLcode cc;

    /* Every attempt ends by the deadline (but gets a second at least). */
    if (left < 1000)
      left = 1000;
    if (timeout_ms > left)
      timeout_ms = left;
    if (connect_ms > timeout_ms)
      connect_ms = timeout_ms;

    if (req->not_after && clock_now_ns () >= req->not_after) {
      resp->past_not_after = true;
      err = EIO;
      break;
    }
    /* The credentials to sign with, renewed when due (s3-creds-cache.c). */
    s3_creds_value_put (x.creds);
    if ((x.creds = s3_creds_get (h->cfg.creds)) == NULL) {
      err = EIO;
      resp->no_credentials = true;
      break;
    }
    resp->attempts++;
    resp->temporary_credentials = x.creds->session_token != NULL;
    cc = attempt (&x, &t, hash, connect_ms, timeout_ms);
    resp->curl_code = cc;
    memset (&resp->err, 0, sizeof resp->err);
    if (x.errlen > 0)
      s3_xml_parse_error (x.errbody, x.errlen, &resp->err);
    /* A HEAD response has no body to name the error. */
    if (cc == CURLE_OK && resp->status == 404 && resp->err.code[0] == '\0' &&
        strcmp (req->method, "HEAD") == 0)
      strcpy (resp->err.code, "NoSuchKey");
    err = s3_error_classify (cc, resp->status, resp->err.code, &retry);
    if (nbds3_debug_s3)
      nbdkit_debug ("s3: %s %s: %ld%s%s%s%s, attempt %u, %" PRId64 " ms",
                    req->method, req->key ? req->key : "(bucket)",
                    resp->status, resp->err.code[0] ? " " : "",
                    resp->err.code, cc != CURLE_OK ? ", curl: " : "",
                    cc != CURLE_OK ? curl_easy_strerror (cc) : "",
                    resp->attempts, now_ms () - t0);
    if (err == 0 || (err == ENOENT && req->missing_ok)) {
      r = 0;
      break;
    }
    /* Expired or revoked temporary credentials: renew them once and sign
     * again at once.
     */
    if (!renewed &&
        s3_error_is_refused_token (resp->status, resp->err.code,
                                   x.creds->session_token != NULL) &&
        s3_creds_refused (h->cfg.creds, x.creds)) {
      renewed = true;
      continue;
    }
    if (!retry || (max_attempts && resp->attempts >= max_attempts))
      break;
    wait_ms = s3_error_backoff_ms (resp->attempts, jitter ());
    if (now_ms () + wait_ms >= deadline)
      break;
    if (nbds3_debug_s3)
      nbdkit_debug ("s3: %s %s: retrying in %u ms", req->method,
                    req->key ? req->key : "(bucket)", wait_ms);
    if (wait_or_cancel (h, wait_ms)) {
      err = ESHUTDOWN;
      resp->cancelled = true;
      break;
    }
  }
  resp->ms = now_ms () - start;
  pool_put (h, x.c);
  s3_creds_value_put (x.creds);
  x.creds = NULL;
  if (r == -1 && again && follow_region (h, resp)) {
    again = false;
    s3_url_target_free (&t);
    memset (&t, 0, sizeof t);
    goto send;
  }

  if (r == -1 && !req->quiet && !resp->no_credentials &&
      !(err == EAGAIN && (req->if_match || req->if_none_match ||
                          req->copy_if_match))) {
    char msg[S3_HTTP_DESCRIBE_MAX];

    nbdkit_error ("%s", s3_http_describe (h, req, resp, msg, sizeof msg));
  }
 out:
  if (r == -1) {
    free (resp->body);
    resp->body = NULL;
  }
  free (x.errbody);
  s3_url_target_free (&t);
  errno = err;
  return r;
}

/* ---- The client ---- */

int
s3_http_global_init (void)
{
  CURLcode cc = curl_global_init (CURL_GLOBAL_DEFAULT);

  if (cc != CURLE_OK) {
    nbdkit_error ("curl_global_init: %s", curl_easy_strerror (cc));
    return -1;
  }
  s3_xml_init ();
  __atomic_store_n (&jitter_state, (uint64_t) time (NULL) * 0x2545f491,
                    __ATOMIC_RELAXED);
  return 0;
}

void
s3_http_global_cleanup (void)
{
  curl_global_cleanup ();
}

void
s3_http_free (struct s3_http *h)
{
  if (h == NULL)
    return;
  for (unsigned i = 0; i < h->npool; ++i)
    curl_easy_cleanup (h->pool[i]);
  free (h->pool);
  pthread_mutex_destroy (&h->lock);
  pthread_cond_destroy (&h->freed);
  pthread_cond_destroy (&h->wake);
  s3_config_free (&h->cfg);
  free (h->old_region);
  free (h->old_endpoint);
  free (h);
}

/* The addressing style of CFG: see s3_http_new. */
static bool
virtual_hosted (const struct s3_config *cfg)
{
  switch (cfg->addressing) {
  case S3_ADDRESSING_PATH:
    return false;
  case S3_ADDRESSING_VIRTUAL:
    return true;
  case S3_ADDRESSING_AUTO:
  default:
    return cfg->endpoint == NULL && strchr (cfg->bucket, '.') == NULL;
  }
}

/* Whether CFG's bodies go unsigned: auto signs them unless the endpoint
 * (set) is https, where TLS protects the body on its way; the page
 * checksum in the object's metadata is checked on a later read.
 */
static bool
unsigned_payload (const struct s3_config *cfg)
{
  switch (cfg->payload_signing) {
  case S3_PAYLOAD_SIGNED:
    return false;
  case S3_PAYLOAD_UNSIGNED:
    return true;
  case S3_PAYLOAD_AUTO:
  default:
    return strncasecmp (cfg->endpoint, "https://", 8) == 0;
  }
}

struct s3_http *
s3_http_new (const struct s3_config *cfg)
{
  struct s3_http *h = calloc (1, sizeof *h);
  struct s3_url_target t;

  if (h == NULL) {
    nbdkit_error ("s3: out of memory");
    return NULL;
  }
  pthread_mutex_init (&h->lock, NULL);
  pthread_cond_init (&h->freed, NULL);
  clock_cond_init (&h->wake);
  if (s3_config_copy (&h->cfg, cfg) == -1)
    goto err;
  if (h->cfg.creds == NULL) {
    struct s3_creds_source *src;

    if (h->cfg.access_key == NULL || h->cfg.secret_key == NULL) {
      nbdkit_error ("s3: no credentials");
      goto err;
    }
    src = s3_creds_static ("access-key= and secret-key=", h->cfg.access_key,
                           h->cfg.secret_key, h->cfg.session_token);
    if (src == NULL || (h->cfg.creds = s3_creds_new (src)) == NULL)
      goto err;
  }
  h->virtual_hosted = virtual_hosted (cfg);
  if (h->cfg.connections < 1)
    h->cfg.connections = 1;
  h->pool = calloc (h->cfg.connections, sizeof *h->pool);
  if (h->pool == NULL ||
      (h->cfg.endpoint == NULL &&
       asprintf (&h->cfg.endpoint, AWS_ENDPOINT_FMT, cfg->region) == -1)) {
    h->cfg.endpoint = NULL;
    nbdkit_error ("s3: out of memory");
    goto err;
  }
  h->unsigned_payload = unsigned_payload (&h->cfg);
  /* Check the endpoint and bucket once, here. */
  if (s3_url_target (h->cfg.endpoint, h->cfg.bucket, h->virtual_hosted,
                     NULL, &t) == -1)
    goto err;
  nbdkit_debug ("s3: bucket %s at %s (%s-style), %u connections, "
                "%s payloads", h->cfg.bucket, t.url,
                h->virtual_hosted ? "virtual-hosted" : "path",
                h->cfg.connections,
                h->unsigned_payload ? "unsigned" : "signed");
  s3_url_target_free (&t);
  return h;

 err:
  s3_http_free (h);
  return NULL;
}

unsigned
s3_http_cancel (struct s3_http *h)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&h->lock);

  __atomic_store_n (&h->cancelled, true, __ATOMIC_RELAXED);
  pthread_cond_broadcast (&h->wake);
  pthread_cond_broadcast (&h->freed);
  return h->ncreated - h->npool;        /* handles in use */
}

void
s3_http_resume (struct s3_http *h)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&h->lock);

  __atomic_store_n (&h->cancelled, false, __ATOMIC_RELAXED);
}
