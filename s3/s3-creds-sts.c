/* SPDX-License-Identifier: MIT
 *
 * The STS sources of the credential chain (s3-creds.h): AssumeRole,
 * signed with the source credentials of a cache (a profile's role_arn
 * with source_profile or credential_source), and
 * AssumeRoleWithWebIdentity, unsigned, with the token read afresh from
 * AWS_WEB_IDENTITY_TOKEN_FILE on every fetch (it is rotated).  This file
 * owns the STS Query protocol: the form-encoded POST, its SigV4
 * signature for service "sts", and reading the answer (s3-xml.c parses
 * it).  Both sources are renewable: each fetch asks STS again.
 */

#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include <nbdkit-plugin.h>

#include "cleanup.h"
#include "s3-creds.h"
#include "s3-creds-fetch.h"
#include "s3-creds-parse.h"
#include "s3-error.h"
#include "s3-xml.h"
#include "sigv4.h"
#include "text.h"

#define STS_TIMEOUT_S 30

struct sts_source {
  struct s3_creds_source src;
  struct s3_creds *base;        /* AssumeRole: who asks; else NULL */
  struct s3_creds_sts params;   /* our copies */
};

/* Append "&NAME=VALUE" (VALUE form-encoded) to *BODY.  0 or -1. */
static int
add_param (char **body, const char *name, const char *value)
{
  size_t n = strlen (value);
  char *enc = malloc (SIGV4_URI_ENCODE_SIZE (n)), *nb;
  int r;

  if (enc == NULL || sigv4_uri_encode (value, true, enc,
                                       SIGV4_URI_ENCODE_SIZE (n)) < 0) {
    free (enc);
    return -1;
  }
  r = asprintf (&nb, "%s%s%s=%s", *body ? *body : "", *body ? "&" : "",
                name, enc);
  text_secret_free (enc);
  text_secret_free (*body);
  *body = r < 0 ? NULL : nb;
  return r < 0 ? -1 : 0;
}

/* The host and the path of the endpoint URL, into HOST and PATH. */
static void
split_url (const char *url, char *host, size_t hlen, char *path,
           size_t plen)
{
  const char *h = strstr (url, "://"), *slash;

  h = h ? h + 3 : url;
  slash = strchr (h, '/');
  snprintf (host, hlen, "%.*s", (int) (slash ? (size_t) (slash - h)
                                       : strlen (h)), h);
  snprintf (path, plen, "%s", slash ? slash : "/");
}

/* The headers of an AssumeRole POST of BODY, signed with V, into
 * LINES (4 strings, the caller frees).  0 or -1.
 */
static int
sign (const struct sts_source *s, const struct s3_creds_value *v,
      const char *body, char *lines[5])
{
  char host[256], path[1024], hash[SIGV4_HEX_SIZE];
  struct sigv4_pair headers[] = {
    { "host", host },
    { "content-type", "application/x-www-form-urlencoded" },
  };
  struct sigv4_request req = {
    .mode = SIGV4_HEADER, .method = "POST", .path = path,
    .headers = headers, .nheaders = 2, .payload_hash = hash,
  };
  struct sigv4_credentials creds = {
    v->access_key, v->secret_key, v->session_token,
  };
  struct sigv4_result sig;
  int r = -1;

  split_url (s->params.endpoint, host, sizeof host, path, sizeof path);
  if (sigv4_sha256_hex (body, strlen (body), hash) == -1 ||
      sigv4_sign (&req, &creds, s->params.region, "sts", time (NULL),
                  &sig) == -1)
    return -1;
  if (asprintf (&lines[0], "x-amz-date: %s", sig.amz_date) >= 0 &&
      asprintf (&lines[1], "Authorization: %s", sig.authorization) >= 0 &&
      (v->session_token == NULL ||
       asprintf (&lines[2], "x-amz-security-token: %s",
                 v->session_token) >= 0))
    r = 0;
  sigv4_result_free (&sig);
  return r;
}

/* The form body of the request.  NULL after nbdkit_error. */
static char *
request_body (const struct sts_source *s)
{
  const struct s3_creds_sts *p = &s->params;
  CLEANUP_FREE char *token = NULL;
  char duration[16];
  char *body = NULL;
  int r;

  if (p->token_file && (token = s3_creds_read_token (p->token_file,
                                    "the web identity token file")) == NULL)
    return NULL;
  snprintf (duration, sizeof duration, "%u", p->duration);
  r = add_param (&body, "Action", token ? "AssumeRoleWithWebIdentity"
                 : "AssumeRole");
  r = r ?: add_param (&body, "Version", "2011-06-15");
  r = r ?: add_param (&body, "RoleArn", p->role_arn);
  r = r ?: add_param (&body, "RoleSessionName", p->session_name);
  r = r ?: add_param (&body, "DurationSeconds", duration);
  if (p->external_id)
    r = r ?: add_param (&body, "ExternalId", p->external_id);
  if (token) {
    r = r ?: add_param (&body, "WebIdentityToken", token);
    OPENSSL_cleanse (token, strlen (token));
  }
  if (r == -1) {
    text_secret_free (body);
    nbdkit_error ("s3: out of memory");
    return NULL;
  }
  return body;
}

/* Turn STS's answer BODY (status STATUS) into *OUT.  0 or -1. */
static int
answer (const struct sts_source *s, long status, const char *body,
        size_t len, struct s3_creds_value **out)
{
  struct s3_sts_credentials c;
  struct s3_error err;
  time_t exp;
  int r = -1;

  if (s3_xml_parse_sts (body, len, &c, &err) == -1) {
    nbdkit_error ("%s: STS answered %ld %s%s%s: %s", s->src.name, status,
                  err.code[0] ? err.code : "without credentials",
                  err.message[0] ? ": " : "", err.message,
                  status == 403 || !strcmp (err.code, "AccessDenied")
                  ? "check the role's trust policy and the source "
                  "credentials" : "check role_arn and the STS endpoint");
    return -1;
  }
  if (s3_creds_parse_time (c.expiration, &exp) == -1)
    nbdkit_error ("%s: STS sent an Expiration that is not an ISO 8601 "
                  "time", s->src.name);
  else if ((*out = s3_creds_value_new (c.access_key_id, c.secret_access_key,
                                       c.session_token, exp)) != NULL)
    r = 0;
  s3_xml_sts_free (&c);
  return r;
}

static int
sts_fetch (struct s3_creds_source *src, struct s3_creds_value **out)
{
  struct sts_source *s = (struct sts_source *) src;
  char *lines[5] = { NULL };
  const char *headers[5] = {
    "Content-Type: application/x-www-form-urlencoded",
  };
  struct s3_creds_fetch f = {
    .method = "POST", .url = s->params.endpoint, .headers = headers,
    .timeout_s = STS_TIMEOUT_S, .tls_verify = s->params.tls_verify,
    .ca_file = s->params.ca_file,
  };
  struct s3_creds_value *v = NULL;
  char *body = request_body (s), *resp = NULL;
  size_t len;
  long status;
  int r = -1;

  if (body == NULL)
    return -1;
  if (s->base) {
    if ((v = s3_creds_get (s->base)) == NULL)
      goto out;
    if (sign (s, v, body, lines) == -1) {
      nbdkit_error ("%s: cannot sign the AssumeRole request", src->name);
      goto out;
    }
    for (size_t i = 0; lines[i]; ++i)
      headers[i + 1] = lines[i];
  }
  f.body = body;
  if (s3_creds_fetch (&f, src->name, &status, &resp, &len) == -1)
    goto out;
  r = answer (s, status, resp, len, out);
  if (r == -1 && s->base && (status == 403 || status == 400))
    s3_creds_refused (s->base, v);
 out:
  for (size_t i = 0; i < 5; ++i)
    text_secret_free (lines[i]);
  text_secret_free (body);
  text_secret_free (resp);
  s3_creds_value_put (v);
  return r;
}

static void
sts_free (struct s3_creds_source *src)
{
  struct sts_source *s = (struct sts_source *) src;

  s3_creds_unref (s->base);
  free (s->params.endpoint);
  free (s->params.region);
  free (s->params.role_arn);
  free (s->params.session_name);
  free (s->params.external_id);
  free (s->params.token_file);
  free (s->params.ca_file);
  free (s->src.name);
  free (s);
}

static bool
dup_str (char **dst, const char *src)
{
  return src == NULL || (*dst = strdup (src)) != NULL;
}

struct s3_creds_source *
s3_creds_sts_new (const char *name, struct s3_creds *base,
                  const struct s3_creds_sts *p)
{
  struct sts_source *s = calloc (1, sizeof *s);

  if (s == NULL) {
    s3_creds_unref (base);
    nbdkit_error ("s3: out of memory");
    return NULL;
  }
  s->src.fetch = sts_fetch;
  s->src.free = sts_free;
  s->src.renewable = true;
  s->base = base;
  s->params = (struct s3_creds_sts) {
    .duration = p->duration, .tls_verify = p->tls_verify,
  };
  if (!dup_str (&s->src.name, name) ||
      !dup_str (&s->params.endpoint, p->endpoint) ||
      !dup_str (&s->params.region, p->region) ||
      !dup_str (&s->params.role_arn, p->role_arn) ||
      !dup_str (&s->params.session_name, p->session_name) ||
      !dup_str (&s->params.external_id, p->external_id) ||
      !dup_str (&s->params.token_file, p->token_file) ||
      !dup_str (&s->params.ca_file, p->ca_file)) {
    nbdkit_error ("s3: out of memory");
    sts_free (&s->src);
    return NULL;
  }
  return &s->src;
}
