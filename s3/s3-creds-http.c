/* SPDX-License-Identifier: MIT
 *
 * The credential sources that are local HTTP services (s3-creds.h): the
 * container credentials endpoint (ECS, EKS Pod Identity) and the EC2
 * instance metadata service.  This file owns their protocols:
 *
 * - Container: GET the URL, with "Authorization: <token>" when a token
 *   (or a token file, read afresh on each fetch) is given; the answer is
 *   a JSON object with AccessKeyId, SecretAccessKey, Token, Expiration.
 * - IMDSv2: PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-
 *   seconds for a session token, then GET
 *   /latest/meta-data/iam/security-credentials/ with
 *   X-aws-ec2-metadata-token for the role's name, then GET the role's
 *   JSON (Code "Success", AccessKeyId, SecretAccessKey, Token,
 *   Expiration).  IMDSv1 (the same GETs without a token) only when asked
 *   for (imds-v1=true), and then only after the token PUT was refused:
 *   a deliberate difference from the SDKs, which fall back by default.
 *
 * Tokens and answers are secrets: wiped after use, never printed.
 */

#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include <nbdkit-plugin.h>

#include "cleanup.h"
#include "debug.h"
#include "s3-creds.h"
#include "s3-creds-fetch.h"
#include "text.h"

#define HTTP_TIMEOUT_S 5
#define IMDS_TOKEN_TTL "21600"
#define CREDS_PATH "/latest/meta-data/iam/security-credentials/"

struct http_source {
  struct s3_creds_source src;
  char *url;                    /* container: the URL; IMDS: the endpoint */
  char *auth_token, *auth_file; /* container */
  bool imds, v1;
};

/* GET or PUT URL with the header line HEADER (or NULL); *BODY the answer
 * of a 200.  1 for a 200, 0 for another status (in *STATUS), -1 after
 * nbdkit_error.
 */
static int
exchange (const struct http_source *h, const char *method, const char *url,
          const char *header, long *status, char **body, size_t *len)
{
  const char *headers[] = { header, NULL };
  struct s3_creds_fetch f = {
    .method = method, .url = url, .headers = headers,
    .timeout_s = HTTP_TIMEOUT_S, .tls_verify = true,
  };

  if (s3_creds_fetch (&f, h->src.name, status, body, len) == -1)
    return -1;
  if (nbds3_debug_s3)
    nbdkit_debug ("s3: %s %s: %ld", method, url, *status);
  if (*status == 200)
    return 1;
  text_secret_free (*body);
  *body = NULL;
  return 0;
}

static int
container_fetch (struct http_source *h, struct s3_creds_value **out)
{
  CLEANUP_FREE char *token = NULL, *header = NULL;
  char *body = NULL;
  size_t len;
  long status;
  int r;

  if (h->auth_file && (token = s3_creds_read_token (h->auth_file,
                                   "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")) == NULL)
    return -1;
  if (token == NULL && h->auth_token && (token = strdup (h->auth_token)) ==
      NULL)
    return -1;
  if (token && (strpbrk (token, "\r\n") ||
                asprintf (&header, "Authorization: %s", token) == -1)) {
    header = NULL;
    nbdkit_error ("%s: the authorization token contains a line break",
                  h->src.name);
    text_secret_free (token);
    token = NULL;
    return -1;
  }
  r = exchange (h, "GET", h->url, header, &status, &body, &len);
  if (token)
    OPENSSL_cleanse (token, strlen (token));
  if (header)
    OPENSSL_cleanse (header, strlen (header));
  if (r == 0)
    nbdkit_error ("%s: GET %s answered %ld: %s", h->src.name, h->url, status,
                  status == 401 || status == 403
                  ? "check AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)"
                  : "check AWS_CONTAINER_CREDENTIALS_*_URI");
  if (r != 1)
    return -1;
  *out = s3_creds_value_from_json (h->src.name, body, len, false);
  text_secret_free (body);
  return *out ? 0 : -1;
}

/* The IMDSv2 session token into *HEADER ("X-aws-ec2-metadata-token:
 * ...").  1 with one, 0 when IMDSv1 is to be used, -1 after
 * nbdkit_error.
 */
static int
imds_token (const struct http_source *h, char **header)
{
  CLEANUP_FREE char *url = NULL;
  char *body = NULL;
  size_t len;
  long status;
  int r;

  *header = NULL;
  if (asprintf (&url, "%s/latest/api/token", h->url) == -1) {
    url = NULL;
    return -1;
  }
  r = exchange (h, "PUT", url, "X-aws-ec2-metadata-token-ttl-seconds: "
                IMDS_TOKEN_TTL, &status, &body, &len);
  if (r == -1)
    return -1;
  if (r == 0 && h->v1) {
    nbdkit_debug ("s3: the IMDSv2 token PUT answered %ld: using IMDSv1 "
                  "(imds-v1=true)", status);
    return 0;
  }
  if (r == 0) {
    nbdkit_error ("%s: the IMDSv2 session token PUT %s answered %ld: "
                  "nbds3 uses IMDSv1 only with imds-v1=true", h->src.name,
                  url, status);
    return -1;
  }
  body[strcspn (body, "\r\n")] = '\0';   /* one line */
  if (*text_trim (body) == '\0' ||
      asprintf (header, "X-aws-ec2-metadata-token: %s", text_trim (body))
      == -1) {
    *header = NULL;
    nbdkit_error ("%s: a bad IMDSv2 session token", h->src.name);
    r = -1;
  }
  text_secret_free (body);
  return r;
}

/* The role name: the first line of the security-credentials listing. */
static char *
imds_role (const struct http_source *h, const char *header)
{
  CLEANUP_FREE char *url = NULL;
  char *body = NULL, *role;
  size_t len;
  long status;
  int r;

  if (asprintf (&url, "%s" CREDS_PATH, h->url) == -1) {
    url = NULL;
    return NULL;
  }
  r = exchange (h, "GET", url, header, &status, &body, &len);
  if (r == 0)
    nbdkit_error ("%s: GET %s answered %ld: does the instance have an IAM "
                  "role?%s", h->src.name, url, status,
                  status == 401 && header == NULL ? " (IMDSv1 refused)" : "");
  if (r != 1)
    return NULL;
  body[strcspn (body, "\r\n")] = '\0';
  role = strdup (text_trim (body));
  free (body);
  if (role && (*role == '\0' || strchr (role, '/'))) {
    nbdkit_error ("%s: no IAM role in the answer of %s", h->src.name, url);
    free (role);
    role = NULL;
  }
  return role;
}

static int
imds_fetch (struct http_source *h, struct s3_creds_value **out)
{
  CLEANUP_FREE char *role = NULL, *url = NULL;
  char *header = NULL, *body = NULL;
  size_t len;
  long status;
  int r = -1;

  if (imds_token (h, &header) == -1 ||
      (role = imds_role (h, header)) == NULL)
    goto out;
  if (asprintf (&url, "%s" CREDS_PATH "%s", h->url, role) == -1) {
    url = NULL;
    goto out;
  }
  r = exchange (h, "GET", url, header, &status, &body, &len);
  if (r == 0)
    nbdkit_error ("%s: GET %s answered %ld", h->src.name, url, status);
  if (r == 1 &&
      (*out = s3_creds_value_from_json (h->src.name, body, len, false)))
    r = 0;
  else
    r = -1;
 out:
  text_secret_free (header);
  text_secret_free (body);
  return r;
}

static int
http_fetch (struct s3_creds_source *src, struct s3_creds_value **out)
{
  struct http_source *h = (struct http_source *) src;

  return h->imds ? imds_fetch (h, out) : container_fetch (h, out);
}

static void
http_free (struct s3_creds_source *src)
{
  struct http_source *h = (struct http_source *) src;

  free (h->url);
  text_secret_free (h->auth_token);
  free (h->auth_file);
  free (h->src.name);
  free (h);
}

static struct http_source *
http_new (const char *url, const char *what)
{
  struct http_source *h = calloc (1, sizeof *h);

  if (h == NULL || (h->url = strdup (url)) == NULL ||
      asprintf (&h->src.name, "%s at %s", what, url) == -1) {
    if (h) {
      h->src.name = NULL;
      http_free (&h->src);
    }
    nbdkit_error ("s3: out of memory");
    return NULL;
  }
  h->src.fetch = http_fetch;
  h->src.free = http_free;
  h->src.renewable = true;
  return h;
}

struct s3_creds_source *
s3_creds_container_new (const char *url, const char *auth_token,
                        const char *auth_file)
{
  struct http_source *h = http_new (url, "container credentials");

  if (h == NULL)
    return NULL;
  if ((auth_token && (h->auth_token = strdup (auth_token)) == NULL) ||
      (auth_file && (h->auth_file = strdup (auth_file)) == NULL)) {
    nbdkit_error ("s3: out of memory");
    http_free (&h->src);
    return NULL;
  }
  return &h->src;
}

struct s3_creds_source *
s3_creds_imds_new (const char *endpoint, bool v1)
{
  struct http_source *h = http_new (endpoint, "EC2 instance metadata");
  size_t n;

  if (h == NULL)
    return NULL;
  n = strlen (h->url);
  while (n > 0 && h->url[n - 1] == '/')
    h->url[--n] = '\0';
  h->imds = true;
  h->v1 = v1;
  return &h->src;
}
