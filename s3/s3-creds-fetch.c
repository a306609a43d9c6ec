/* SPDX-License-Identifier: MIT
 *
 * A token file, and one HTTP exchange, for the credential providers
 * (s3-creds-fetch.h).  The exchange:
 * libcurl on a handle of its own, no retries (the cache tries again
 * later), no redirects followed, no proxy for link-local and loopback
 * addresses.  Headers and bodies carry secrets: the header lines are
 * wiped after use, and the body buffer is the caller's to wipe.
 */

#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include <nbdkit-plugin.h>

#include "s3-creds-fetch.h"
#include "text.h"

struct sink {
  char *buf;
  size_t len;
  bool too_long;
};

static size_t
write_cb (char *p, size_t size, size_t n, void *opaque)
{
  struct sink *s = opaque;
  size_t add = size * n;

  if (s->len + add > S3_CREDS_FETCH_MAX) {
    s->too_long = true;
    return 0;
  }
  memcpy (s->buf + s->len, p, add);
  s->len += add;
  return add;
}

/* F's header lines as a curl list; NULL on failure (or none). */
static struct curl_slist *
header_list (const struct s3_creds_fetch *f, bool *ok)
{
  struct curl_slist *list = NULL, *l;

  *ok = true;
  for (size_t i = 0; f->headers && f->headers[i]; ++i) {
    l = curl_slist_append (list, f->headers[i]);
    if (l == NULL) {
      *ok = false;
      break;
    }
    list = l;
  }
  /* curl adds "Expect: 100-continue" to some bodies: not wanted. */
  if (*ok && (l = curl_slist_append (list, "Expect:")) != NULL)
    list = l;
  return list;
}

static void
free_list (struct curl_slist *list)
{
  for (struct curl_slist *l = list; l; l = l->next)
    OPENSSL_cleanse (l->data, strlen (l->data));
  curl_slist_free_all (list);
}

int
s3_creds_fetch (const struct s3_creds_fetch *f, const char *what,
                long *status, char **body, size_t *len)
{
  char err[CURL_ERROR_SIZE] = "";
  struct sink s = { .buf = malloc (S3_CREDS_FETCH_MAX + 1) };
  struct curl_slist *headers = NULL;
  CURL *c = curl_easy_init ();
  CURLcode cc = CURLE_OUT_OF_MEMORY;
  bool ok = true;

  *body = NULL;
  *status = 0;
  if (c == NULL || s.buf == NULL)
    goto out;
  headers = header_list (f, &ok);
  if (!ok)
    goto out;
  curl_easy_setopt (c, CURLOPT_URL, f->url);
  curl_easy_setopt (c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (c, CURLOPT_ERRORBUFFER, err);
  curl_easy_setopt (c, CURLOPT_TIMEOUT, (long) f->timeout_s);
  /* Link-local services answer at once, or are not there. */
  curl_easy_setopt (c, CURLOPT_CONNECTTIMEOUT,
                    f->timeout_s < 2 ? (long) f->timeout_s : 2L);
  curl_easy_setopt (c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt (c, CURLOPT_NOPROXY, "127.0.0.1,localhost,::1,"
                    "169.254.169.254,169.254.170.2,fd00:ec2::254");
  curl_easy_setopt (c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt (c, CURLOPT_SSL_VERIFYPEER, f->tls_verify ? 1L : 0L);
  curl_easy_setopt (c, CURLOPT_SSL_VERIFYHOST, f->tls_verify ? 2L : 0L);
  if (f->ca_file)
    curl_easy_setopt (c, CURLOPT_CAINFO, f->ca_file);
  curl_easy_setopt (c, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt (c, CURLOPT_WRITEDATA, &s);
  if (strcmp (f->method, "GET") != 0) {
    curl_easy_setopt (c, CURLOPT_CUSTOMREQUEST, f->method);
    curl_easy_setopt (c, CURLOPT_POSTFIELDS, f->body ? f->body : "");
  }
  cc = curl_easy_perform (c);
  curl_easy_getinfo (c, CURLINFO_RESPONSE_CODE, status);
 out:
  free_list (headers);
  if (c)
    curl_easy_cleanup (c);
  if (cc != CURLE_OK) {
    if (s.too_long)
      nbdkit_error ("%s: %s %s: the answer is longer than %d bytes", what,
                    f->method, f->url, S3_CREDS_FETCH_MAX);
    else
      nbdkit_error ("%s: %s %s: %s%s%s", what, f->method, f->url,
                    curl_easy_strerror (cc), err[0] ? ": " : "", err);
    if (s.buf)
      OPENSSL_cleanse (s.buf, s.len);
    free (s.buf);
    return -1;
  }
  s.buf[s.len] = '\0';
  *body = s.buf;
  *len = s.len;
  return 0;
}

char *
s3_creds_read_token (const char *path, const char *what)
{
  FILE *fp = fopen (path, "re");
  char *buf = calloc (1, S3_CREDS_FETCH_MAX + 1), *t;
  size_t n, len;

  if (fp == NULL || buf == NULL) {
    nbdkit_error ("cannot read %s %s: %m", what, path);
    if (fp)
      fclose (fp);
    free (buf);
    return NULL;
  }
  n = len = fread (buf, 1, S3_CREDS_FETCH_MAX, fp);
  fclose (fp);
  /* Trimmed of white space, line ends included. */
  while (n > 0 && text_is_space (buf[n - 1]))
    buf[--n] = '\0';
  for (t = buf; text_is_space (*t); ++t)
    ;
  memmove (buf, t, strlen (t) + 1);
  if (*buf == '\0') {
    nbdkit_error ("%s %s is empty", what, path);
    OPENSSL_cleanse (buf, len);
    free (buf);
    return NULL;
  }
  return buf;
}
