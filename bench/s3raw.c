/* SPDX-License-Identifier: MIT
 *
 * s3raw: the benchmark's independent S3 client, which measures what the
 * S3 server itself can do.  It PUTs or GETs COUNT objects of SIZE bytes,
 * named PREFIX-000000 ..., with PARALLEL threads, each keeping one libcurl
 * easy handle (one kept-alive connection) and taking the next object
 * number from a shared counter, and prints one line:
 *
 *   ops=N bytes=B secs=S
 *
 * It signs with its own small SigV4 (UNSIGNED-PAYLOAD, path-style; it
 * shares no code with nbds3) because curl 7.88's --aws-sigv4 signs an
 * "Expect" header that -H 'Expect:' then removes, so a PUT over 1 MiB
 * either fails its signature or waits for "100 Continue" -- a round trip
 * nbds3 does not pay.  Every response must be 200 with exactly SIZE bytes
 * for a GET, or the program fails: a fast error is not a fast server.
 *
 * Credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, the
 * region from AWS_REGION (default us-east-1).  Built by bench/run.sh, not
 * by automake (the benchmark is not part of the build), hence no
 * <config.h>.
 */

#define _GNU_SOURCE

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

static const char *method;      /* "PUT" or "GET" */
static const char *endpoint;    /* http://HOST:PORT, no trailing slash */
static const char *host;        /* HOST:PORT, as curl sends it */
static const char *bucket, *prefix, *access_key, *secret_key, *region;
static size_t object_size;
static unsigned count;
static unsigned char *body;     /* PUT payload, shared by every thread */
static atomic_uint next_object;
static atomic_uint failures;
static atomic_uint_fast64_t bytes_moved;

static void
hex (const unsigned char *in, size_t n, char *out)
{
  static const char digits[] = "0123456789abcdef";
  size_t i;

  for (i = 0; i < n; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 15];
  }
  out[2 * n] = '\0';
}

static void
hmac (const void *key, size_t keylen, const char *msg, unsigned char *out)
{
  unsigned len = 32;

  HMAC (EVP_sha256 (), key, (int) keylen, (const unsigned char *) msg,
        strlen (msg), out, &len);
}

/* Fill AUTH with the Authorization header value and AMZDATE with the
 * x-amz-date value for METHOD on PATH.
 */
static void
sign (const char *path, char *amzdate, char *auth, size_t authlen)
{
  char date[9], canonical[1024], sts[512], hash_hex[65], sig_hex[65];
  char secret[256];
  unsigned char hash[32], k1[32], k2[32], k3[32], k4[32], sig[32];
  time_t now = time (NULL);
  struct tm tm;

  gmtime_r (&now, &tm);
  strftime (amzdate, 17, "%Y%m%dT%H%M%SZ", &tm);
  strftime (date, sizeof date, "%Y%m%d", &tm);

  snprintf (canonical, sizeof canonical,
            "%s\n%s\n\n"
            "host:%s\nx-amz-content-sha256:UNSIGNED-PAYLOAD\n"
            "x-amz-date:%s\n\n"
            "host;x-amz-content-sha256;x-amz-date\nUNSIGNED-PAYLOAD",
            method, path, host, amzdate);
  SHA256 ((const unsigned char *) canonical, strlen (canonical), hash);
  hex (hash, 32, hash_hex);
  snprintf (sts, sizeof sts,
            "AWS4-HMAC-SHA256\n%s\n%s/%s/s3/aws4_request\n%s",
            amzdate, date, region, hash_hex);

  snprintf (secret, sizeof secret, "AWS4%s", secret_key);
  hmac (secret, strlen (secret), date, k1);
  hmac (k1, 32, region, k2);
  hmac (k2, 32, "s3", k3);
  hmac (k3, 32, "aws4_request", k4);
  hmac (k4, 32, sts, sig);
  hex (sig, 32, sig_hex);
  snprintf (auth, authlen,
            "Authorization: AWS4-HMAC-SHA256 Credential=%s/%s/%s/s3/"
            "aws4_request, SignedHeaders=host;x-amz-content-sha256;"
            "x-amz-date, Signature=%s",
            access_key, date, region, sig_hex);
}

struct transfer {
  size_t got;                   /* GET: bytes received */
  size_t sent;                  /* PUT: bytes sent */
};

static size_t
write_cb (char *ptr, size_t size, size_t nmemb, void *opaque)
{
  struct transfer *t = opaque;

  (void) ptr;
  t->got += size * nmemb;
  return size * nmemb;
}

static size_t
read_cb (char *buf, size_t size, size_t nmemb, void *opaque)
{
  struct transfer *t = opaque;
  size_t n = size * nmemb;

  if (n > object_size - t->sent)
    n = object_size - t->sent;
  memcpy (buf, body + t->sent, n);
  t->sent += n;
  return n;
}

static void *
worker (void *arg)
{
  CURL *h = curl_easy_init ();
  char path[512], url[1024], amzdate[17], auth[512], datehdr[64];
  unsigned i;

  (void) arg;
  if (h == NULL) {
    atomic_fetch_add (&failures, 1);
    return NULL;
  }
  while ((i = atomic_fetch_add (&next_object, 1)) < count) {
    struct curl_slist *hdrs = NULL;
    struct transfer t = { 0 };
    long code = 0;
    CURLcode r;

    snprintf (path, sizeof path, "/%s/%s-%06u", bucket, prefix, i);
    snprintf (url, sizeof url, "%s%s", endpoint, path);
    sign (path, amzdate, auth, sizeof auth);
    snprintf (datehdr, sizeof datehdr, "x-amz-date: %s", amzdate);
    hdrs = curl_slist_append (hdrs, auth);
    hdrs = curl_slist_append (hdrs, datehdr);
    hdrs = curl_slist_append (hdrs, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    hdrs = curl_slist_append (hdrs, "Expect:");
    hdrs = curl_slist_append (hdrs, "Accept:");

    curl_easy_reset (h);
    curl_easy_setopt (h, CURLOPT_URL, url);
    curl_easy_setopt (h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt (h, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt (h, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt (h, CURLOPT_TIMEOUT, 120L);
    if (strcmp (method, "PUT") == 0) {
      curl_easy_setopt (h, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt (h, CURLOPT_READFUNCTION, read_cb);
      curl_easy_setopt (h, CURLOPT_READDATA, &t);
      curl_easy_setopt (h, CURLOPT_INFILESIZE_LARGE,
                        (curl_off_t) object_size);
    }
    r = curl_easy_perform (h);
    curl_easy_getinfo (h, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all (hdrs);
    if (r != CURLE_OK || code != 200 ||
        (strcmp (method, "GET") == 0 && t.got != object_size)) {
      if (atomic_fetch_add (&failures, 1) < 5)
        fprintf (stderr, "s3raw: %s %s: %s, HTTP %ld, %zu bytes\n",
                 method, path, curl_easy_strerror (r), code, t.got);
      continue;
    }
    atomic_fetch_add (&bytes_moved, object_size);
  }
  curl_easy_cleanup (h);
  return NULL;
}

int
main (int argc, char *argv[])
{
  pthread_t *threads;
  unsigned parallel, i;
  struct timespec t0, t1;
  double secs;
  char *hostbuf;

  if (argc != 8) {
    fprintf (stderr, "usage: s3raw PUT|GET ENDPOINT BUCKET PREFIX SIZE "
             "COUNT PARALLEL\n");
    return 2;
  }
  method = argv[1];
  endpoint = argv[2];
  bucket = argv[3];
  prefix = argv[4];
  object_size = strtoull (argv[5], NULL, 0);
  count = strtoul (argv[6], NULL, 0);
  parallel = strtoul (argv[7], NULL, 0);
  access_key = getenv ("AWS_ACCESS_KEY_ID");
  secret_key = getenv ("AWS_SECRET_ACCESS_KEY");
  region = getenv ("AWS_REGION");
  if (region == NULL || *region == '\0')
    region = "us-east-1";
  if ((strcmp (method, "PUT") != 0 && strcmp (method, "GET") != 0) ||
      strncmp (endpoint, "http://", 7) != 0 || object_size == 0 ||
      count == 0 || parallel == 0 || access_key == NULL ||
      secret_key == NULL) {
    fprintf (stderr, "s3raw: bad arguments or AWS_* credentials missing\n");
    return 2;
  }
  hostbuf = strdup (endpoint + 7);
  if (hostbuf == NULL)
    return 1;
  hostbuf[strcspn (hostbuf, "/")] = '\0';
  host = hostbuf;

  body = malloc (object_size);
  threads = calloc (parallel, sizeof *threads);
  if (body == NULL || threads == NULL)
    return 1;
  for (i = 0; i < object_size; i++)
    body[i] = (unsigned char) (i * 2654435761u >> 24);

  curl_global_init (CURL_GLOBAL_DEFAULT);
  clock_gettime (CLOCK_MONOTONIC, &t0);
  for (i = 0; i < parallel; i++)
    if (pthread_create (&threads[i], NULL, worker, NULL) != 0) {
      fprintf (stderr, "s3raw: pthread_create failed\n");
      return 1;
    }
  for (i = 0; i < parallel; i++)
    pthread_join (threads[i], NULL);
  clock_gettime (CLOCK_MONOTONIC, &t1);
  curl_global_cleanup ();

  secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf ("ops=%u bytes=%" PRIuFAST64 " secs=%.6f\n",
          count - atomic_load (&failures),
          (uint_fast64_t) atomic_load (&bytes_moved), secs);
  free (threads);
  free (body);
  free (hostbuf);
  return atomic_load (&failures) ? 1 : 0;
}
