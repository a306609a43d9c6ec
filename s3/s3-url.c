/* SPDX-License-Identifier: MIT
 *
 * The pure functions of nbds3's S3 client, split from s3-http.c: where a
 * request goes (s3_http_target: addressing styles, the Host header, the
 * encoded path), what an attempt's outcome means (s3_http_classify, the
 * one mapping to errno and to "retry"), TLS failures, and the retry
 * backoff.  No I/O, no clock, no state: the unit tests call them directly.
 */

#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include <nbdkit-plugin.h>

#include "cleanup.h"
#include "s3-http.h"

int
s3_http_classify (int curl_code, long status, const char *code, bool *retry)
{
  *retry = false;
  if (code == NULL)
    code = "";

  switch ((CURLcode) curl_code) {
  case CURLE_OK:
    break;
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_CONNECT:
  case CURLE_OPERATION_TIMEDOUT:
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE:
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
  case CURLE_WEIRD_SERVER_REPLY:
    *retry = true;
    return EIO;
  case CURLE_OUT_OF_MEMORY:
    return ENOMEM;
  case CURLE_ABORTED_BY_CALLBACK:       /* only s3_http_cancel aborts */
    return ESHUTDOWN;
  default:                              /* TLS, our write abort, ... */
    return EIO;
  }

  if (status >= 200 && status <= 299)
    return 0;
  if (status == 404 && strcmp (code, "NoSuchKey") == 0)
    return ENOENT;
  if (status == 412)
    return EAGAIN;
  if ((status >= 500 && status != 501) || status == 429 ||
      strcmp (code, "SlowDown") == 0 || strcmp (code, "RequestTimeout") == 0 ||
      strcmp (code, "ConditionalRequestConflict") == 0) {
    *retry = true;
    return EIO;
  }
  if (strcmp (code, "QuotaExceeded") == 0 ||
      strcmp (code, "EntityTooLarge") == 0)
    return ENOSPC;
  return EIO;                   /* other 4xx, 3xx, no status */
}

bool
s3_http_tls_error (int curl_code)
{
  switch ((CURLcode) curl_code) {
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
    return true;
  default:
    return false;
  }
}

unsigned
s3_http_backoff_ms (unsigned attempt, uint32_t random)
{
  unsigned max = S3_HTTP_BACKOFF_CAP_MS;

  if (attempt < 1)
    attempt = 1;
  if (attempt <= 16 &&
      (S3_HTTP_BACKOFF_BASE_MS << (attempt - 1)) < S3_HTTP_BACKOFF_CAP_MS)
    max = S3_HTTP_BACKOFF_BASE_MS << (attempt - 1);
  return max / 2 + random % (max / 2 + 1);
}

void
s3_http_target_free (struct s3_http_target *t)
{
  free (t->url);
  free (t->host);
  free (t->path);
  t->url = t->host = t->path = NULL;
}

/* A bucket name that can be the first label(s) of a host name. */
static bool
dns_compatible (const char *b)
{
  size_t len = strlen (b);

  if (len < 1 || len > 63 || b[0] == '.' || b[0] == '-' ||
      b[len - 1] == '.' || b[len - 1] == '-' || strstr (b, "..") != NULL)
    return false;
  for (const char *p = b; *p; ++p)
    if (!(islower ((unsigned char) *p) || isdigit ((unsigned char) *p) ||
          *p == '.' || *p == '-'))
      return false;
  return true;
}

int
s3_http_target (const char *endpoint, const char *bucket,
                bool virtual_hosted, const char *key,
                struct s3_http_target *t)
{
  CLEANUP_FREE char *rawpath = NULL, *ebucket = NULL, *epath = NULL;
  const char *scheme, *auth, *end;
  size_t alen, hlen;
  int n;

  memset (t, 0, sizeof *t);
  if (strncmp (endpoint, "https://", 8) == 0)
    scheme = "https";
  else if (strncmp (endpoint, "http://", 7) == 0)
    scheme = "http";
  else
    goto bad_endpoint;
  auth = endpoint + strlen (scheme) + 3;
  alen = strcspn (auth, "/?#@ \t");
  end = auth + alen;
  if (alen == 0 || (*end != '\0' && strcmp (end, "/") != 0))
    goto bad_endpoint;
  /* The Host header leaves out the scheme's default port, as curl does. */
  hlen = alen;
  if (strcmp (scheme, "http") == 0 && alen > 3 &&
      strncmp (end - 3, ":80", 3) == 0)
    hlen -= 3;
  else if (strcmp (scheme, "https") == 0 && alen > 4 &&
           strncmp (end - 4, ":443", 4) == 0)
    hlen -= 4;

  if (virtual_hosted && !dns_compatible (bucket)) {
    nbdkit_error ("bucket name '%s' cannot be part of a host name "
                  "(virtual-hosted addressing): use addressing=path",
                  bucket);
    return -1;
  }
  if (asprintf (&rawpath, "/%s", key ? key : "") == -1)
    goto nomem;
  epath = malloc (SIGV4_URI_ENCODE_SIZE (strlen (rawpath)));
  ebucket = malloc (SIGV4_URI_ENCODE_SIZE (strlen (bucket)));
  if (epath == NULL || ebucket == NULL)
    goto nomem;
  sigv4_uri_encode (rawpath, false, epath,
                    SIGV4_URI_ENCODE_SIZE (strlen (rawpath)));
  sigv4_uri_encode (bucket, true, ebucket,
                    SIGV4_URI_ENCODE_SIZE (strlen (bucket)));

  if (virtual_hosted) {
    n = asprintf (&t->host, "%s.%.*s", bucket, (int) hlen, auth);
    if (n != -1)
      t->path = strdup (epath);
    if (n != -1 && t->path)
      n = asprintf (&t->url, "%s://%s.%.*s%s", scheme, bucket, (int) alen,
                    auth, epath);
  }
  else {
    n = asprintf (&t->host, "%.*s", (int) hlen, auth);
    if (n != -1)
      n = asprintf (&t->path, "/%s%s", ebucket, key ? epath : "");
    if (n != -1)
      n = asprintf (&t->url, "%s://%.*s%s", scheme, (int) alen, auth,
                    t->path);
  }
  if (n == -1 || t->url == NULL || t->host == NULL || t->path == NULL) {
    s3_http_target_free (t);
    goto nomem;
  }
  return 0;

 bad_endpoint:
  nbdkit_error ("endpoint=%s: expected http://HOST[:PORT] or "
                "https://HOST[:PORT], without a path", endpoint);
  return -1;
 nomem:
  nbdkit_error ("s3: out of memory");
  return -1;
}
