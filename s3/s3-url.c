/* SPDX-License-Identifier: MIT
 *
 * Where an S3 request goes: this file owns building a request's target
 * (s3_url_target): checking the endpoint, the two addressing styles
 * (bucket in the path, or in the host name when it is DNS-compatible),
 * the Host header without the scheme's default port, and the path
 * percent-encoded once with sigv4_uri_encode, exactly as it is signed.
 * No I/O, no clock, no state: the unit tests call it directly.
 */

#include <config.h>

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-plugin.h>

#include "cleanup.h"
#include "s3-url.h"
#include "sigv4.h"

void
s3_url_target_free (struct s3_url_target *t)
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
s3_url_target (const char *endpoint, const char *bucket,
               bool virtual_hosted, const char *key,
               struct s3_url_target *t)
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
  /* The authority becomes the Host header: no byte that ends its line. */
  for (size_t i = 0; i < alen; ++i)
    if ((unsigned char) auth[i] < 0x20 || auth[i] == 0x7f)
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
    s3_url_target_free (t);
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
