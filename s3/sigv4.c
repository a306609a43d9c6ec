/* SPDX-License-Identifier: MIT
 *
 * The AWS Signature Version 4 signer (see sigv4.h).  It owns the four
 * steps of SigV4 and nothing else: the canonical request, the string to
 * sign, the derived signing key and the signature, plus the Authorization
 * header or the presigned query string built from them.
 *
 * Invariants: pure code (OpenSSL for SHA-256 and HMAC only; no curl, no
 * clock, no locks, no globals); paths are used verbatim, never normalised,
 * because S3 signs the path as sent; key material lives only in stack
 * buffers that are wiped with OPENSSL_cleanse before returning; no secret
 * is ever written to a message.  All output strings of one signature share
 * one growing buffer, so a typical request costs one allocation (two with
 * query parameters, three with more than a handful of headers).
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

/* Append N bytes that already sit in SB at offset OFF (the buffer may
 * move while growing, so no pointer into it is held across the call).
 */
static void
sb_add_self (struct strbuf *sb, size_t off, size_t n)
{
  if (!sb_reserve (sb, n))
    return;
  memmove (sb->p + sb->len, sb->p + off, n);
  sb->len += n;
  sb->p[sb->len] = '\0';
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
static const char hexdigits_lower[] = "0123456789abcdef";

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

static void
hex_lower (const unsigned char *in, size_t len, char *out)
{
  for (size_t i = 0; i < len; ++i) {
    out[2 * i] = hexdigits_lower[in[i] >> 4];
    out[2 * i + 1] = hexdigits_lower[in[i] & 15];
  }
  out[2 * len] = '\0';
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
  hex_lower (md, sizeof md, out);
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
  size_t name_off, value_off;   /* into the scratch buffer while encoding */
  const char *name, *value;     /* resolved once the buffer stops moving */
};

static int
param_cmp (const void *av, const void *bv)
{
  const struct param *a = av, *b = bv;
  int r = strcmp (a->name, b->name);

  return r != 0 ? r : strcmp (a->value, b->value);
}

/* Append one parameter to SCRATCH: its encoded name and value, each
 * NUL-terminated.  VALUE_PARTS are encoded one after the other as one
 * value (so "AKID" "/" "scope" becomes AKID%2Fscope).
 */
static void
add_param (struct strbuf *scratch, struct param *p, const char *name,
           const char *const *value_parts, size_t nparts)
{
  p->name_off = scratch->len;
  sb_add_encoded (scratch, name, true);
  p->value_off = sb_end (scratch);
  for (size_t i = 0; i < nparts; ++i)
    sb_add_encoded (scratch, value_parts[i] ? value_parts[i] : "", true);
  sb_end (scratch);
}

/* ---- Signing ---- */

/* Names the signer adds itself; a caller passing them is a bug. */
static const char *const owned_headers[] = {
  "authorization", "x-amz-date", "x-amz-security-token",
};
static const char *const owned_params[] = {
  "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
  "X-Amz-Security-Token", "X-Amz-SignedHeaders", "X-Amz-Signature",
};

static bool
owned (const char *name, const char *const *list, size_t n)
{
  for (size_t i = 0; i < n; ++i)
    if (header_name_cmp (name, list[i]) == 0)
      return true;
  return false;
}

#define NR_SMALL 16             /* entries kept on the stack */

int
sigv4_sign (const struct sigv4_request *req,
            const struct sigv4_credentials *creds,
            const char *region, const char *service, time_t now,
            struct sigv4_result *res)
{
  const bool query_mode = req->mode == SIGV4_QUERY;
  const bool sign_token = creds->session_token && !req->unsigned_token;
  struct strbuf sb = { 0 }, scratch = { 0 };
  struct header hsmall[NR_SMALL], *hs = hsmall;
  struct param psmall[NR_SMALL], *ps = psmall;
  size_t nh = 0, np = 0, maxh, maxp;
  size_t off_scope, off_signed, off_cquery, off_creq, off_sts, off_auth = 0,
    off_query, len_scope, len_signed, len_cquery;
  unsigned char md[SHA256_DIGEST_LENGTH], key[SIGV4_KEY_SIZE];
  char hash_hex[SIGV4_HEX_SIZE], date[9], expires[16];
  struct tm tm;
  int r = -1;

  memset (res, 0, sizeof *res);

  if (gmtime_r (&now, &tm) == NULL || tm.tm_year < 0 ||
      tm.tm_year > 9999 - 1900) {
    nbdkit_error ("sigv4: cannot format time %lld", (long long) now);
    goto out;
  }
  if (snprintf (res->amz_date, sizeof res->amz_date,
                "%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                tm.tm_sec) != SIGV4_DATE_SIZE - 1)
    goto out;                   /* cannot happen after the range check */
  memcpy (date, res->amz_date, 8);
  date[8] = '\0';

  /* Headers: the caller's plus, in header mode, the signer's own. */
  maxh = req->nheaders + 2;
  if (maxh > NR_SMALL) {
    hs = calloc (maxh, sizeof *hs);
    if (hs == NULL) {
      sb.oom = true;
      goto out;
    }
  }
  for (size_t i = 0; i < req->nheaders; ++i) {
    const struct sigv4_pair *h = &req->headers[i];
    if (owned (h->name, owned_headers,
               sizeof owned_headers / sizeof owned_headers[0])) {
      nbdkit_error ("sigv4: the signer sets the %s header itself", h->name);
      goto out;
    }
    hs[nh] = (struct header) { h->name, h->value ? h->value : "", nh };
    nh++;
  }
  if (!query_mode) {
    hs[nh] = (struct header) { "x-amz-date", res->amz_date, nh };
    nh++;
    if (sign_token) {
      hs[nh] = (struct header) {
        "x-amz-security-token", creds->session_token, nh
      };
      nh++;
    }
  }
  qsort (hs, nh, sizeof *hs, header_cmp);

  /* Credential scope: 20150830/us-east-1/service/aws4_request */
  off_scope = sb.len;
  sb_adds (&sb, date);
  sb_addc (&sb, '/');
  sb_adds (&sb, region);
  sb_addc (&sb, '/');
  sb_adds (&sb, service);
  sb_adds (&sb, "/aws4_request");
  len_scope = sb.len - off_scope;

  /* Signed headers: host;x-amz-date */
  off_signed = sb_end (&sb);
  for (size_t i = 0; i < nh; ++i) {
    if (i > 0 && header_name_cmp (hs[i].name, hs[i - 1].name) == 0)
      continue;
    if (i > 0)
      sb_addc (&sb, ';');
    sb_add_lower (&sb, hs[i].name);
  }
  len_signed = sb.len - off_signed;
  off_cquery = sb_end (&sb);
  if (sb.oom)
    goto out;

  /* Query parameters, encoded into SCRATCH, then sorted. */
  maxp = req->nquery + 6;
  if (maxp > NR_SMALL) {
    ps = calloc (maxp, sizeof *ps);
    if (ps == NULL) {
      sb.oom = true;
      goto out;
    }
  }
  for (size_t i = 0; i < req->nquery; ++i) {
    const struct sigv4_pair *q = &req->query[i];
    if (query_mode &&
        owned (q->name, owned_params,
               sizeof owned_params / sizeof owned_params[0])) {
      nbdkit_error ("sigv4: the signer sets the %s parameter itself",
                    q->name);
      goto out;
    }
    add_param (&scratch, &ps[np++], q->name, &q->value, 1);
  }
  if (query_mode) {
    const char *alg[] = { SIGV4_ALGORITHM };
    const char *cred[] = { creds->access_key_id, "/", sb.p + off_scope };
    const char *dt[] = { res->amz_date };
    const char *exps[] = { expires };
    const char *tok[] = { creds->session_token };
    const char *sh[] = { sb.p + off_signed };

    snprintf (expires, sizeof expires, "%u", req->expires);
    add_param (&scratch, &ps[np++], "X-Amz-Algorithm", alg, 1);
    add_param (&scratch, &ps[np++], "X-Amz-Credential", cred, 3);
    add_param (&scratch, &ps[np++], "X-Amz-Date", dt, 1);
    add_param (&scratch, &ps[np++], "X-Amz-Expires", exps, 1);
    if (sign_token)
      add_param (&scratch, &ps[np++], "X-Amz-Security-Token", tok, 1);
    add_param (&scratch, &ps[np++], "X-Amz-SignedHeaders", sh, 1);
  }
  if (scratch.oom)
    goto out;
  for (size_t i = 0; i < np; ++i) {
    ps[i].name = scratch.p + ps[i].name_off;
    ps[i].value = scratch.p + ps[i].value_off;
  }
  qsort (ps, np, sizeof *ps, param_cmp);

  /* Canonical query string. */
  for (size_t i = 0; i < np; ++i) {
    if (i > 0)
      sb_addc (&sb, '&');
    sb_adds (&sb, ps[i].name);
    sb_addc (&sb, '=');
    sb_adds (&sb, ps[i].value);
  }
  len_cquery = sb.len - off_cquery;

  /* Canonical request. */
  off_creq = sb_end (&sb);
  sb_adds (&sb, req->method);
  sb_addc (&sb, '\n');
  sb_adds (&sb, req->path);
  sb_addc (&sb, '\n');
  sb_add_self (&sb, off_cquery, len_cquery);
  sb_addc (&sb, '\n');
  for (size_t i = 0; i < nh; ++i) {
    if (i > 0 && header_name_cmp (hs[i].name, hs[i - 1].name) == 0)
      sb_addc (&sb, ',');
    else {
      if (i > 0)
        sb_addc (&sb, '\n');
      sb_add_lower (&sb, hs[i].name);
      sb_addc (&sb, ':');
    }
    sb_add_trimmed (&sb, hs[i].value);
  }
  if (nh > 0)
    sb_addc (&sb, '\n');
  sb_addc (&sb, '\n');
  sb_add_self (&sb, off_signed, len_signed);
  sb_addc (&sb, '\n');
  sb_adds (&sb, req->payload_hash);
  if (sb.oom)
    goto out;

  /* String to sign. */
  if (sigv4_sha256_hex (sb.p + off_creq, sb.len - off_creq, hash_hex) == -1)
    goto out;
  off_sts = sb_end (&sb);
  sb_adds (&sb, SIGV4_ALGORITHM "\n");
  sb_adds (&sb, res->amz_date);
  sb_addc (&sb, '\n');
  sb_add_self (&sb, off_scope, len_scope);
  sb_addc (&sb, '\n');
  sb_adds (&sb, hash_hex);
  if (sb.oom)
    goto out;

  /* Signature. */
  if (sigv4_signing_key (creds->secret_access_key, date, region, service,
                         key) == -1 ||
      hmac_sha256 (key, sizeof key, sb.p + off_sts, sb.len - off_sts,
                   md) == -1)
    goto out;
  hex_lower (md, sizeof md, res->signature);

  /* Authorization header or presigned query string. */
  if (!query_mode) {
    off_auth = sb_end (&sb);
    sb_adds (&sb, SIGV4_ALGORITHM " Credential=");
    sb_adds (&sb, creds->access_key_id);
    sb_addc (&sb, '/');
    sb_add_self (&sb, off_scope, len_scope);
    sb_adds (&sb, ", SignedHeaders=");
    sb_add_self (&sb, off_signed, len_signed);
    sb_adds (&sb, ", Signature=");
    sb_adds (&sb, res->signature);
    off_query = off_cquery;
  }
  else {
    off_query = sb_end (&sb);
    sb_add_self (&sb, off_cquery, len_cquery);
    if (creds->session_token && !sign_token) {
      sb_adds (&sb, "&X-Amz-Security-Token=");
      sb_add_encoded (&sb, creds->session_token, true);
    }
    sb_adds (&sb, "&X-Amz-Signature=");
    sb_adds (&sb, res->signature);
  }
  sb_end (&sb);
  if (sb.oom)
    goto out;

  res->storage = sb.p;
  res->storage_size = sb.cap;
  res->canonical_request = sb.p + off_creq;
  res->string_to_sign = sb.p + off_sts;
  res->signed_headers = sb.p + off_signed;
  res->authorization = query_mode ? NULL : sb.p + off_auth;
  res->query = sb.p + off_query;
  sb.p = NULL;
  r = 0;

 out:
  if (sb.oom || scratch.oom)
    nbdkit_error ("sigv4: out of memory");
  OPENSSL_cleanse (key, sizeof key);
  OPENSSL_cleanse (md, sizeof md);
  if (hs != hsmall)
    free (hs);
  if (ps != psmall)
    free (ps);
  sb_free (&scratch);
  sb_free (&sb);
  if (r == -1) {
    res->amz_date[0] = '\0';
    res->signature[0] = '\0';
  }
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
