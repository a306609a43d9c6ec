/* SPDX-License-Identifier: MIT
 *
 * The AWS Signature Version 4 signer (see sigv4.h).  It owns the four
 * stages of SigV4 and nothing else, each a short function that fills its
 * own buffer in one struct signer, as aws-c-auth's signer does: the
 * canonical request (built from the sorted headers, the credential scope,
 * the signed header list and the canonical query), the string to sign,
 * the derived signing key and the signature; then the Authorization header
 * or the presigned query string, and the copy of the strings the caller
 * sees into the one buffer of struct sigv4_result.  Pure code (OpenSSL for
 * SHA-256 and HMAC only; no curl, no clock, no locks, no globals); paths
 * are used verbatim, never normalised, because S3 signs the path as sent;
 * every buffer that may hold key material or the session token is wiped
 * with OPENSSL_cleanse before it is freed or goes out of scope, and no
 * secret is ever written to a message.
 */

#include <config.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <nbdkit-plugin.h>

#include "sigv4.h"
#include "text.h"

/* ---- A growing string buffer with a sticky allocation failure ---- */

struct strbuf {
  char *p;
  size_t len, cap;
  bool oom;
};

static bool
sb_reserve (struct strbuf *sb, size_t n)
{
  size_t need, cap;
  char *p;

  if (sb->oom)
    return false;
  if (n > SIZE_MAX / 2 - sb->len) {
    sb->oom = true;
    return false;
  }
  need = sb->len + n + 1;
  if (need <= sb->cap)
    return true;
  cap = sb->cap ? sb->cap : 512;
  while (cap < need)
    cap *= 2;
  /* Not realloc: the old buffer may hold a session token, so it is
   * wiped before it is freed.
   */
  p = malloc (cap);
  if (p == NULL) {
    sb->oom = true;
    return false;
  }
  if (sb->p) {
    memcpy (p, sb->p, sb->len);
    OPENSSL_cleanse (sb->p, sb->cap);
    free (sb->p);
  }
  sb->p = p;
  sb->cap = cap;
  return true;
}

/* Wipe and free SB's buffer. */
static void
sb_free (struct strbuf *sb)
{
  if (sb->p) {
    OPENSSL_cleanse (sb->p, sb->cap);
    free (sb->p);
  }
  sb->p = NULL;
}

static void
sb_add (struct strbuf *sb, const char *s, size_t n)
{
  if (!sb_reserve (sb, n))
    return;
  memcpy (sb->p + sb->len, s, n);
  sb->len += n;
  sb->p[sb->len] = '\0';
}

static void
sb_adds (struct strbuf *sb, const char *s)
{
  sb_add (sb, s, strlen (s));
}

static void
sb_addc (struct strbuf *sb, char c)
{
  sb_add (sb, &c, 1);
}

/* The string SB holds, "" while it holds nothing. */
static const char *
sb_str (const struct strbuf *sb)
{
  return sb->p ? sb->p : "";
}

/* Append the whole string held in FROM. */
static void
sb_add_sb (struct strbuf *sb, const struct strbuf *from)
{
  sb_add (sb, sb_str (from), from->len);
}

/* 0, or -1 after reporting that SB ran out of memory. */
static int
sb_check (const struct strbuf *sb)
{
  if (sb->oom) {
    nbdkit_error ("sigv4: out of memory");
    return -1;
  }
  return 0;
}

/* End the current string with its NUL and return the offset where the
 * next one starts.
 */
static size_t
sb_end (struct strbuf *sb)
{
  if (sb_reserve (sb, 1)) {
    sb->p[sb->len++] = '\0';
    sb->p[sb->len] = '\0';
  }
  return sb->len;
}

/* ---- Encoding ---- */

static const char hexdigits_upper[] = "0123456789ABCDEF";

static inline bool
is_unreserved (unsigned char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';
}

static inline char
ascii_lower (char c)
{
  return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Percent-encode S into SB, as sigv4_uri_encode. */
static void
sb_add_encoded (struct strbuf *sb, const char *s, bool encode_slash)
{
  size_t n = strlen (s);
  char *o;

  if (!sb_reserve (sb, 3 * n))
    return;
  o = sb->p + sb->len;
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = s[i];
    if (is_unreserved (c) || (c == '/' && !encode_slash))
      *o++ = c;
    else {
      *o++ = '%';
      *o++ = hexdigits_upper[c >> 4];
      *o++ = hexdigits_upper[c & 15];
    }
  }
  sb->len = o - sb->p;
  sb->p[sb->len] = '\0';
}

ssize_t
sigv4_uri_encode (const char *in, bool encode_slash, char *out, size_t outlen)
{
  size_t j = 0;

  for (size_t i = 0; in[i] != '\0'; ++i) {
    unsigned char c = in[i];
    bool keep = is_unreserved (c) || (c == '/' && !encode_slash);

    if (j + (keep ? 1 : 3) >= outlen) {
      nbdkit_error ("sigv4: URI encoding needs more than %zu bytes", outlen);
      return -1;
    }
    if (keep)
      out[j++] = c;
    else {
      out[j++] = '%';
      out[j++] = hexdigits_upper[c >> 4];
      out[j++] = hexdigits_upper[c & 15];
    }
  }
  if (outlen == 0) {
    nbdkit_error ("sigv4: URI encoding needs more than %zu bytes", outlen);
    return -1;
  }
  out[j] = '\0';
  return j;
}

/* ---- Hashes ---- */

int
sigv4_sha256_hex (const void *data, size_t len, char out[SIGV4_HEX_SIZE])
{
  unsigned char md[SHA256_DIGEST_LENGTH];

  if (SHA256 (data, len, md) == NULL) {
    nbdkit_error ("sigv4: SHA-256 failed");
    return -1;
  }
  text_hex (md, sizeof md, out);
  return 0;
}

/* OUT = HMAC-SHA256 (KEY, DATA). */
static int
hmac_sha256 (const void *key, size_t keylen, const char *data, size_t len,
             unsigned char out[SIGV4_KEY_SIZE])
{
  unsigned int outlen = SIGV4_KEY_SIZE;

  if (HMAC (EVP_sha256 (), key, (int) keylen,
            (const unsigned char *) data, len, out, &outlen) == NULL ||
      outlen != SIGV4_KEY_SIZE) {
    nbdkit_error ("sigv4: HMAC-SHA256 failed");
    return -1;
  }
  return 0;
}

int
sigv4_signing_key (const char *secret, const char *date,
                   const char *region, const char *service,
                   unsigned char key[SIGV4_KEY_SIZE])
{
  const char *chain[] = { date, region, service, "aws4_request" };
  char small[128];
  char *k0 = small;
  size_t slen = strlen (secret);
  unsigned char k[SIGV4_KEY_SIZE], next[SIGV4_KEY_SIZE];
  int r = -1;

  /* The first key is "AWS4" + secret, on the stack unless very long. */
  if (slen > INT32_MAX - 8) {
    nbdkit_error ("sigv4: secret key too long");
    return -1;
  }
  if (slen + 4 > sizeof small) {
    k0 = malloc (slen + 4);
    if (k0 == NULL) {
      nbdkit_error ("sigv4: malloc: %m");
      return -1;
    }
  }
  memcpy (k0, "AWS4", 4);
  memcpy (k0 + 4, secret, slen);

  if (hmac_sha256 (k0, slen + 4, chain[0], strlen (chain[0]), k) == -1)
    goto out;
  for (size_t i = 1; i < sizeof chain / sizeof chain[0]; ++i) {
    if (hmac_sha256 (k, sizeof k, chain[i], strlen (chain[i]), next) == -1)
      goto out;
    memcpy (k, next, sizeof k);
  }
  memcpy (key, k, sizeof k);
  r = 0;

 out:
  OPENSSL_cleanse (k0, slen + 4);
  if (k0 != small)
    free (k0);
  OPENSSL_cleanse (k, sizeof k);
  OPENSSL_cleanse (next, sizeof next);
  return r;
}

/* ---- Canonical headers ---- */

struct header {
  const char *name;
  const char *value;
  size_t order;                 /* position given, to keep duplicates stable */
};

static int
header_name_cmp (const char *a, const char *b)
{
  for (;; ++a, ++b) {
    unsigned char ca = ascii_lower (*a), cb = ascii_lower (*b);
    if (ca != cb || ca == '\0')
      return ca - cb;
  }
}

static int
header_cmp (const void *av, const void *bv)
{
  const struct header *a = av, *b = bv;
  int r = header_name_cmp (a->name, b->name);

  if (r != 0)
    return r;
  return a->order < b->order ? -1 : a->order > b->order;
}

static bool
is_space (char c)
{
  return c == ' ' || c == '\t';
}

/* Append V trimmed, each inner run of spaces or tabs as one space. */
static void
sb_add_trimmed (struct strbuf *sb, const char *v)
{
  bool gap = false, any = false;

  for (; *v; ++v) {
    if (is_space (*v))
      gap = true;
    else {
      if (gap && any)
        sb_addc (sb, ' ');
      sb_addc (sb, *v);
      gap = false;
      any = true;
    }
  }
}

static void
sb_add_lower (struct strbuf *sb, const char *s)
{
  size_t n = strlen (s);

  if (!sb_reserve (sb, n))
    return;
  for (size_t i = 0; i < n; ++i)
    sb->p[sb->len + i] = ascii_lower (s[i]);
  sb->len += n;
  sb->p[sb->len] = '\0';
}

/* ---- Canonical query ---- */

struct param {
  size_t name_off, value_off;   /* into signer.params while encoding */
  const char *name, *value;     /* resolved once that buffer stops moving */
};

static int
param_cmp (const void *av, const void *bv)
{
  const struct param *a = av, *b = bv;
  int r = strcmp (a->name, b->name);

  return r != 0 ? r : strcmp (a->value, b->value);
}

/* ---- Names the signer owns ---- */

/* Names the signer adds itself; a caller passing them is a bug. */
static const char *const owned_headers[] = {
  "authorization", "x-amz-date", "x-amz-security-token",
};
static const char *const owned_params[] = {
  "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
  "X-Amz-Security-Token", "X-Amz-SignedHeaders", "X-Amz-Signature",
};

/* -1 after reporting if NAME, a WHAT ("header" or "parameter") of the
 * caller, is one of the N in LIST, which the signer sets itself; else 0.
 */
static int
refuse_owned (const char *name, const char *const *list, size_t n,
              const char *what)
{
  for (size_t i = 0; i < n; ++i) {
    if (header_name_cmp (name, list[i]) == 0) {
      nbdkit_error ("sigv4: the signer sets the %s %s itself", name, what);
      return -1;
    }
  }
  return 0;
}

/* ---- The signer's state ---- */

#define NR_SMALL 16             /* headers or parameters kept on the stack */

/* One signature in progress, on the stack of sigv4_sign.  Each stage
 * fills its own field and reads only those of the stages before it;
 * signer_free wipes every buffer.
 */
struct signer {
  /* The input, and the dates derived from the time. */
  const struct sigv4_request *req;
  const struct sigv4_credentials *creds;
  const char *region, *service;
  bool query_mode;                     /* req->mode == SIGV4_QUERY */
  bool sign_token;                     /* the session token is signed */
  char amz_date[SIGV4_DATE_SIZE];      /* 20150830T123600Z */
  char date[9];                        /* 20150830 */

  /* The canonical request and the parts it is made of. */
  struct header *hs, hsmall[NR_SMALL]; /* sorted headers to sign */
  size_t nh;
  struct param *ps, psmall[NR_SMALL];  /* sorted, encoded parameters */
  size_t np;
  struct strbuf params;                /* the strings PS points to */
  struct strbuf scope;                 /* 20150830/us-east-1/s3/aws4_request */
  struct strbuf signed_headers;        /* host;x-amz-date */
  struct strbuf canonical_query;       /* a=1&b=2 */
  struct strbuf canonical_request;

  /* The string to sign, the signing key and the signature. */
  struct strbuf string_to_sign;
  unsigned char key[SIGV4_KEY_SIZE];
  char signature[SIGV4_HEX_SIZE];

  /* What the caller sends: one of the two, by mode. */
  struct strbuf authorization;         /* SIGV4_HEADER */
  struct strbuf presigned_query;       /* SIGV4_QUERY */
};

/* Room for N items of SIZE bytes: SMALL (NR_SMALL of them) if they fit,
 * else the heap.  NULL after reporting.
 */
static void *
items_alloc (void *small, size_t n, size_t size)
{
  void *p;

  if (n <= NR_SMALL)
    return small;
  p = calloc (n, size);
  if (p == NULL)
    nbdkit_error ("sigv4: out of memory");
  return p;
}

static void
signer_free (struct signer *s)
{
  struct strbuf *bufs[] = {
    &s->params, &s->scope, &s->signed_headers, &s->canonical_query,
    &s->canonical_request, &s->string_to_sign, &s->authorization,
    &s->presigned_query,
  };

  if (s->hs != s->hsmall)
    free (s->hs);
  if (s->ps != s->psmall)
    free (s->ps);
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; ++i)
    sb_free (bufs[i]);
  OPENSSL_cleanse (s->key, sizeof s->key);
}

/* ---- Stage 1: the canonical request ---- */

/* AMZ_DATE (ISO 8601 basic, UTC) and DATE from NOW. */
static int
format_dates (struct signer *s, time_t now)
{
  struct tm tm;

  if (gmtime_r (&now, &tm) == NULL || tm.tm_year < 0 ||
      tm.tm_year > 9999 - 1900 ||
      snprintf (s->amz_date, sizeof s->amz_date,
                "%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                tm.tm_sec) != SIGV4_DATE_SIZE - 1) {
    nbdkit_error ("sigv4: cannot format time %lld", (long long) now);
    return -1;
  }
  memcpy (s->date, s->amz_date, 8);
  s->date[8] = '\0';
  return 0;
}

static void
add_header (struct signer *s, const char *name, const char *value)
{
  s->hs[s->nh] = (struct header) { name, value, s->nh };
  s->nh++;
}

/* The headers to sign, sorted: the caller's plus, in header mode, the
 * signer's own x-amz-date and (when signed) x-amz-security-token.
 */
static int
collect_headers (struct signer *s)
{
  const struct sigv4_request *req = s->req;

  s->hs = items_alloc (s->hsmall, req->nheaders + 2, sizeof *s->hs);
  if (s->hs == NULL)
    return -1;
  for (size_t i = 0; i < req->nheaders; ++i) {
    const struct sigv4_pair *h = &req->headers[i];
    if (refuse_owned (h->name, owned_headers,
                      sizeof owned_headers / sizeof owned_headers[0],
                      "header") == -1)
      return -1;
    add_header (s, h->name, h->value ? h->value : "");
  }
  if (!s->query_mode) {
    add_header (s, "x-amz-date", s->amz_date);
    if (s->sign_token)
      add_header (s, "x-amz-security-token", s->creds->session_token);
  }
  qsort (s->hs, s->nh, sizeof *s->hs, header_cmp);
  return 0;
}

/* 20150830/us-east-1/s3/aws4_request */
static int
build_credential_scope (struct signer *s)
{
  struct strbuf *sb = &s->scope;

  sb_adds (sb, s->date);
  sb_addc (sb, '/');
  sb_adds (sb, s->region);
  sb_addc (sb, '/');
  sb_adds (sb, s->service);
  sb_adds (sb, "/aws4_request");
  return sb_check (sb);
}

/* true if header I has the name of the one before it (they are sorted,
 * so a repeated name is adjacent): its value joins that one's.
 */
static bool
repeats_name (const struct signer *s, size_t i)
{
  return i > 0 && header_name_cmp (s->hs[i].name, s->hs[i - 1].name) == 0;
}

/* host;x-amz-date: each name once, lower case. */
static int
build_signed_headers (struct signer *s)
{
  struct strbuf *sb = &s->signed_headers;

  for (size_t i = 0; i < s->nh; ++i) {
    if (repeats_name (s, i))
      continue;
    if (i > 0)
      sb_addc (sb, ';');
    sb_add_lower (sb, s->hs[i].name);
  }
  return sb_check (sb);
}

/* Append one parameter to s->params: its encoded name and value, each
 * NUL-terminated.  VALUE_PARTS are encoded one after the other as one
 * value (so "AKID" "/" "scope" becomes AKID%2Fscope).
 */
static void
add_param (struct signer *s, const char *name,
           const char *const *value_parts, size_t nparts)
{
  struct param *p = &s->ps[s->np++];

  p->name_off = s->params.len;
  sb_add_encoded (&s->params, name, true);
  p->value_off = sb_end (&s->params);
  for (size_t i = 0; i < nparts; ++i)
    sb_add_encoded (&s->params, value_parts[i] ? value_parts[i] : "", true);
  sb_end (&s->params);
}

/* Query mode: the X-Amz-* parameters that carry the authentication (all
 * but the signature, which cannot sign itself).
 */
static void
add_auth_params (struct signer *s)
{
  char expires[16];
  const char *alg[] = { SIGV4_ALGORITHM };
  const char *cred[] = {
    s->creds->access_key_id, "/", sb_str (&s->scope)
  };
  const char *dt[] = { s->amz_date };
  const char *exps[] = { expires };
  const char *tok[] = { s->creds->session_token };
  const char *sh[] = { sb_str (&s->signed_headers) };

  snprintf (expires, sizeof expires, "%u", s->req->expires);
  add_param (s, "X-Amz-Algorithm", alg, 1);
  add_param (s, "X-Amz-Credential", cred, 3);
  add_param (s, "X-Amz-Date", dt, 1);
  add_param (s, "X-Amz-Expires", exps, 1);
  if (s->sign_token)
    add_param (s, "X-Amz-Security-Token", tok, 1);
  add_param (s, "X-Amz-SignedHeaders", sh, 1);
}

/* The query parameters, encoded, then sorted by name and value. */
static int
collect_params (struct signer *s)
{
  const struct sigv4_request *req = s->req;

  s->ps = items_alloc (s->psmall, req->nquery + 6, sizeof *s->ps);
  if (s->ps == NULL)
    return -1;
  for (size_t i = 0; i < req->nquery; ++i) {
    const struct sigv4_pair *q = &req->query[i];
    if (s->query_mode &&
        refuse_owned (q->name, owned_params,
                      sizeof owned_params / sizeof owned_params[0],
                      "parameter") == -1)
      return -1;
    add_param (s, q->name, &q->value, 1);
  }
  if (s->query_mode)
    add_auth_params (s);
  if (sb_check (&s->params) == -1)
    return -1;
  for (size_t i = 0; i < s->np; ++i) {
    s->ps[i].name = s->params.p + s->ps[i].name_off;
    s->ps[i].value = s->params.p + s->ps[i].value_off;
  }
  qsort (s->ps, s->np, sizeof *s->ps, param_cmp);
  return 0;
}

/* a=1&b=2 */
static int
build_canonical_query (struct signer *s)
{
  struct strbuf *sb = &s->canonical_query;

  for (size_t i = 0; i < s->np; ++i) {
    if (i > 0)
      sb_addc (sb, '&');
    sb_adds (sb, s->ps[i].name);
    sb_addc (sb, '=');
    sb_adds (sb, s->ps[i].value);
  }
  return sb_check (sb);
}

/* Append "name:value\n" for each header name: lower case, the value
 * trimmed, the values of a repeated name joined with ','.
 */
static void
append_canonical_headers (struct strbuf *sb, const struct signer *s)
{
  for (size_t i = 0; i < s->nh; ++i) {
    if (repeats_name (s, i))
      sb_addc (sb, ',');
    else {
      if (i > 0)
        sb_addc (sb, '\n');
      sb_add_lower (sb, s->hs[i].name);
      sb_addc (sb, ':');
    }
    sb_add_trimmed (sb, s->hs[i].value);
  }
  if (s->nh > 0)
    sb_addc (sb, '\n');
}

/* Method, path, query, headers, signed headers and payload hash, one a
 * line (the headers end with an empty line of their own).
 */
static int
build_canonical_request (struct signer *s)
{
  struct strbuf *sb = &s->canonical_request;

  sb_adds (sb, s->req->method);
  sb_addc (sb, '\n');
  sb_adds (sb, s->req->path);
  sb_addc (sb, '\n');
  sb_add_sb (sb, &s->canonical_query);
  sb_addc (sb, '\n');
  append_canonical_headers (sb, s);
  sb_addc (sb, '\n');
  sb_add_sb (sb, &s->signed_headers);
  sb_addc (sb, '\n');
  sb_adds (sb, s->req->payload_hash);
  return sb_check (sb);
}

/* ---- Stage 2: the string to sign ---- */

/* Algorithm, date, credential scope and the hex SHA-256 of the canonical
 * request, one a line.
 */
static int
build_string_to_sign (struct signer *s)
{
  struct strbuf *sb = &s->string_to_sign;
  char hash_hex[SIGV4_HEX_SIZE];

  if (sigv4_sha256_hex (sb_str (&s->canonical_request),
                        s->canonical_request.len, hash_hex) == -1)
    return -1;
  sb_adds (sb, SIGV4_ALGORITHM "\n");
  sb_adds (sb, s->amz_date);
  sb_addc (sb, '\n');
  sb_add_sb (sb, &s->scope);
  sb_addc (sb, '\n');
  sb_adds (sb, hash_hex);
  return sb_check (sb);
}

/* ---- Stage 3: the signing key ---- */

static int
derive_signing_key (struct signer *s)
{
  return sigv4_signing_key (s->creds->secret_access_key, s->date,
                            s->region, s->service, s->key);
}

/* ---- Stage 4: the signature ---- */

/* The hex HMAC-SHA256 of the string to sign under the signing key. */
static int
compute_signature (struct signer *s)
{
  unsigned char md[SHA256_DIGEST_LENGTH];
  int r;

  r = hmac_sha256 (s->key, sizeof s->key, sb_str (&s->string_to_sign),
                   s->string_to_sign.len, md);
  if (r == 0)
    text_hex (md, sizeof md, s->signature);
  OPENSSL_cleanse (md, sizeof md);
  return r;
}

/* ---- The result ---- */

/* Header mode: the value of the Authorization header. */
static int
build_authorization (struct signer *s)
{
  struct strbuf *sb = &s->authorization;

  sb_adds (sb, SIGV4_ALGORITHM " Credential=");
  sb_adds (sb, s->creds->access_key_id);
  sb_addc (sb, '/');
  sb_add_sb (sb, &s->scope);
  sb_adds (sb, ", SignedHeaders=");
  sb_add_sb (sb, &s->signed_headers);
  sb_adds (sb, ", Signature=");
  sb_adds (sb, s->signature);
  return sb_check (sb);
}

/* Query mode: the canonical query, the session token if it was left out
 * of the signature, and the signature.
 */
static int
build_presigned_query (struct signer *s)
{
  struct strbuf *sb = &s->presigned_query;

  sb_add_sb (sb, &s->canonical_query);
  if (s->creds->session_token && !s->sign_token) {
    sb_adds (sb, "&X-Amz-Security-Token=");
    sb_add_encoded (sb, s->creds->session_token, true);
  }
  sb_adds (sb, "&X-Amz-Signature=");
  sb_adds (sb, s->signature);
  return sb_check (sb);
}

/* Fill RES: the dates and the signature, and the strings the caller
 * sees copied into one buffer that sigv4_result_free wipes and frees.
 */
static int
export_result (const struct signer *s, struct sigv4_result *res)
{
  const struct strbuf *from[] = {
    &s->canonical_request, &s->string_to_sign, &s->signed_headers,
    s->query_mode ? &s->presigned_query : &s->canonical_query,
    &s->authorization,
  };
  const char **to[] = {
    &res->canonical_request, &res->string_to_sign, &res->signed_headers,
    &res->query, &res->authorization,
  };
  const size_t n = s->query_mode ? 4 : 5;  /* no authorization in query */
  size_t size = 0;
  char *p;

  for (size_t i = 0; i < n; ++i)
    size += from[i]->len + 1;
  p = malloc (size);
  if (p == NULL) {
    nbdkit_error ("sigv4: out of memory");
    return -1;
  }
  res->storage = p;
  res->storage_size = size;
  for (size_t i = 0; i < n; ++i) {
    memcpy (p, sb_str (from[i]), from[i]->len + 1);
    *to[i] = p;
    p += from[i]->len + 1;
  }
  memcpy (res->amz_date, s->amz_date, sizeof res->amz_date);
  memcpy (res->signature, s->signature, sizeof res->signature);
  return 0;
}

/* ---- Signing ---- */

int
sigv4_sign (const struct sigv4_request *req,
            const struct sigv4_credentials *creds,
            const char *region, const char *service, time_t now,
            struct sigv4_result *res)
{
  struct signer s = {
    .req = req, .creds = creds, .region = region, .service = service,
    .query_mode = req->mode == SIGV4_QUERY,
    .sign_token = creds->session_token && !req->unsigned_token,
  };
  int r = -1;

  memset (res, 0, sizeof *res);
  if (format_dates (&s, now) == -1 ||
      collect_headers (&s) == -1 ||
      build_credential_scope (&s) == -1 ||
      build_signed_headers (&s) == -1 ||
      collect_params (&s) == -1 ||
      build_canonical_query (&s) == -1 ||
      build_canonical_request (&s) == -1 ||
      build_string_to_sign (&s) == -1 ||
      derive_signing_key (&s) == -1 ||
      compute_signature (&s) == -1 ||
      (s.query_mode ? build_presigned_query (&s)
       : build_authorization (&s)) == -1 ||
      export_result (&s, res) == -1)
    goto out;
  r = 0;

 out:
  signer_free (&s);
  return r;
}

void
sigv4_result_free (struct sigv4_result *res)
{
  if (res->storage)
    OPENSSL_cleanse (res->storage, res->storage_size);
  free (res->storage);
  memset (res, 0, sizeof *res);
}
