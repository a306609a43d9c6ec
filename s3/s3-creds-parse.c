/* SPDX-License-Identifier: MIT
 *
 * A small strict JSON reader for one flat object (credential_process
 * output, container and instance metadata credentials) and an ISO 8601
 * time parser (s3-creds-parse.h).  Pure: no I/O, no clock, no state.
 *
 * The reader is a recursive-descent-free scanner over one level: '{',
 * then "name": value pairs separated by ',', then '}'.  Strings follow
 * RFC 8259 (escapes, \uXXXX with surrogate pairs, no raw control
 * characters, valid UTF-8 is not checked beyond that); numbers are only
 * kept for Version, as integers.  Every buffer that held part of the
 * document is wiped before it is freed: it carries secrets.
 */

#include <config.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "s3-creds-parse.h"
#include "text.h"

#define JSON_MAX (64 * 1024)

struct scan {
  const char *start, *p, *end;
  char *why;
  size_t why_len;
};

static int
fail (struct scan *s, const char *what)
{
  snprintf (s->why, s->why_len, "%s at byte %zu", what,
            (size_t) (s->p - s->start));
  return -1;
}

static void
skip_ws (struct scan *s)
{
  while (s->p < s->end &&
         (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
    s->p++;
}

static int
hex4 (struct scan *s, unsigned *u)
{
  *u = 0;
  if (s->end - s->p < 4)
    return -1;
  for (int i = 0; i < 4; ++i) {
    char c = *s->p++;

    *u <<= 4;
    if (c >= '0' && c <= '9')
      *u |= c - '0';
    else if (c >= 'a' && c <= 'f')
      *u |= c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      *u |= c - 'A' + 10;
    else
      return -1;
  }
  return 0;
}

/* Append code point U as UTF-8 to OUT at *N (room is guaranteed: an
 * escape is 6 or 12 bytes of input for at most 4 of output).
 */
static void
put_utf8 (char *out, size_t *n, unsigned u)
{
  if (u < 0x80)
    out[(*n)++] = u;
  else if (u < 0x800) {
    out[(*n)++] = 0xc0 | (u >> 6);
    out[(*n)++] = 0x80 | (u & 0x3f);
  }
  else if (u < 0x10000) {
    out[(*n)++] = 0xe0 | (u >> 12);
    out[(*n)++] = 0x80 | ((u >> 6) & 0x3f);
    out[(*n)++] = 0x80 | (u & 0x3f);
  }
  else {
    out[(*n)++] = 0xf0 | (u >> 18);
    out[(*n)++] = 0x80 | ((u >> 12) & 0x3f);
    out[(*n)++] = 0x80 | ((u >> 6) & 0x3f);
    out[(*n)++] = 0x80 | (u & 0x3f);
  }
}

/* A \u escape (the "\u" consumed) into OUT.  0 or -1. */
static int
unicode_escape (struct scan *s, char *out, size_t *n)
{
  unsigned u, lo;

  if (hex4 (s, &u) == -1)
    return -1;
  if (u >= 0xdc00 && u <= 0xdfff)
    return -1;
  if (u >= 0xd800 && u <= 0xdbff) {
    if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
      return -1;
    s->p += 2;
    if (hex4 (s, &lo) == -1 || lo < 0xdc00 || lo > 0xdfff)
      return -1;
    u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
  }
  if (u == 0)
    return -1;                  /* no NUL inside a C string */
  put_utf8 (out, n, u);
  return 0;
}

/* Decode the string body from s->p to s->end into BUF.  0 or -1. */
static int
decode (struct scan *s, char *buf)
{
  size_t n = 0;

  while (s->p < s->end) {
    unsigned char c = *s->p++;

    if (c < 0x20)
      return fail (s, "a control character in a string");
    if (c != '\\') {
      buf[n++] = c;
      continue;
    }
    c = *s->p++;
    switch (c) {
    case '"': case '\\': case '/': buf[n++] = c; break;
    case 'b': buf[n++] = '\b'; break;
    case 'f': buf[n++] = '\f'; break;
    case 'n': buf[n++] = '\n'; break;
    case 'r': buf[n++] = '\r'; break;
    case 't': buf[n++] = '\t'; break;
    case 'u':
      if (unicode_escape (s, buf, &n) == 0)
        break;
      /* fallthrough */
    default:
      return fail (s, "a bad escape in a string");
    }
  }
  buf[n] = '\0';
  return 0;
}

/* A string at s->p (its opening quote); *OUT a new decoded copy, s->p
 * past the closing quote.  0 or -1.
 */
static int
string (struct scan *s, char **out)
{
  const char *start = ++s->p, *outer_end = s->end, *close;
  size_t len;
  char *buf;
  int r;

  *out = NULL;
  while (s->p < s->end && *s->p != '"')
    s->p += *s->p == '\\' && s->p + 1 < s->end ? 2 : 1;
  if (s->p >= s->end)
    return fail (s, "an unterminated string");
  close = s->p;
  len = close - start;
  buf = malloc (len + 1);
  if (buf == NULL)
    return fail (s, "out of memory");
  s->p = start;
  s->end = close;               /* decode the string's bytes only */
  r = decode (s, buf);
  s->end = outer_end;
  s->p = close + 1;
  if (r == -1) {
    OPENSSL_cleanse (buf, len);
    free (buf);
    return -1;
  }
  *out = buf;
  return 0;
}

/* A literal or number at s->p; *NUM its value when it is an integer
 * (*IS_INT).  0 or -1.
 */
static int
scalar (struct scan *s, int64_t *num, bool *is_int)
{
  static const char *const words[] = { "true", "false", "null" };
  const char *start = s->p;
  char digits[32];
  size_t n;
  char *endp;

  *is_int = false;
  for (size_t i = 0; i < 3; ++i) {
    n = strlen (words[i]);
    if ((size_t) (s->end - s->p) >= n && memcmp (s->p, words[i], n) == 0) {
      s->p += n;
      return 0;
    }
  }
  if (s->p < s->end && *s->p == '-')
    s->p++;
  if (s->p >= s->end || *s->p < '0' || *s->p > '9')
    return fail (s, "a value that is not a string, number or literal");
  if (*s->p == '0' && s->p + 1 < s->end && s->p[1] >= '0' && s->p[1] <= '9')
    return fail (s, "a number with a leading zero");
  while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
    s->p++;
  n = s->p - start;
  *is_int = s->p >= s->end || (*s->p != '.' && *s->p != 'e' && *s->p != 'E');
  if (*is_int && n < sizeof digits) {
    memcpy (digits, start, n);
    digits[n] = '\0';
    *num = strtoll (digits, &endp, 10);
  }
  else
    *is_int = false;
  if (s->p < s->end && *s->p == '.') {
    s->p++;
    if (s->p >= s->end || *s->p < '0' || *s->p > '9')
      return fail (s, "a bad number");
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
      s->p++;
  }
  if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
    s->p++;
    if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
      s->p++;
    if (s->p >= s->end || *s->p < '0' || *s->p > '9')
      return fail (s, "a bad number");
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
      s->p++;
  }
  return 0;
}

/* Where member NAME goes in DOC, or NULL to ignore it. */
static char **
slot (struct s3_creds_doc *doc, const char *name)
{
  static const struct { const char *name; size_t off; } fields[] = {
    { "AccessKeyId", offsetof (struct s3_creds_doc, access_key_id) },
    { "SecretAccessKey", offsetof (struct s3_creds_doc, secret_access_key) },
    { "SessionToken", offsetof (struct s3_creds_doc, session_token) },
    { "Token", offsetof (struct s3_creds_doc, token) },
    { "Expiration", offsetof (struct s3_creds_doc, expiration) },
    { "Code", offsetof (struct s3_creds_doc, code) },
    { "Message", offsetof (struct s3_creds_doc, message) },
  };

  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; ++i)
    if (strcmp (name, fields[i].name) == 0)
      return (char **) ((char *) doc + fields[i].off);
  return NULL;
}

/* One "name": value member at s->p into DOC.  SEEN_VERSION guards
 * against a second Version.  0 or -1.
 */
static int
member (struct scan *s, struct s3_creds_doc *doc, bool *seen_version)
{
  char *name = NULL, *value = NULL, **dst;
  int64_t num = 0;
  bool is_int = false;
  int r = -1;

  if (s->p >= s->end || *s->p != '"')
    return fail (s, "a member name expected");
  if (string (s, &name) == -1)
    return -1;
  skip_ws (s);
  if (s->p >= s->end || *s->p != ':') {
    fail (s, "':' expected");
    goto out;
  }
  s->p++;
  skip_ws (s);
  if (s->p < s->end && *s->p == '"') {
    if (string (s, &value) == -1)
      goto out;
  }
  else if (s->p < s->end && (*s->p == '{' || *s->p == '[')) {
    fail (s, "a nested object or array");
    goto out;
  }
  else if (scalar (s, &num, &is_int) == -1)
    goto out;

  if (strcmp (name, "Version") == 0) {
    if (*seen_version) {
      fail (s, "a second Version");
      goto out;
    }
    *seen_version = true;
    doc->has_version = value == NULL && is_int;
    doc->version = num;
  }
  else if ((dst = slot (doc, name)) != NULL) {
    if (*dst) {
      fail (s, "a member given twice");
      goto out;
    }
    *dst = value;               /* NULL for a non-string value */
    value = NULL;
  }
  r = 0;
 out:
  free (name);
  text_secret_free (value);
  return r;
}

int
s3_creds_parse_json (const char *text, size_t len, struct s3_creds_doc *doc,
                     char *why, size_t why_len)
{
  struct scan s = { text, text, text + len, why, why_len };
  bool seen_version = false;

  memset (doc, 0, sizeof *doc);
  if (len > JSON_MAX) {
    snprintf (why, why_len, "the document is larger than %d bytes",
              JSON_MAX);
    return -1;
  }
  skip_ws (&s);
  if (s.p >= s.end || *s.p != '{') {
    fail (&s, "not a JSON object: '{' expected");
    goto err;
  }
  s.p++;
  skip_ws (&s);
  if (s.p < s.end && *s.p == '}')
    s.p++;
  else
    for (;;) {
      if (member (&s, doc, &seen_version) == -1)
        goto err;
      skip_ws (&s);
      if (s.p < s.end && *s.p == ',') {
        s.p++;
        skip_ws (&s);
        continue;
      }
      if (s.p < s.end && *s.p == '}') {
        s.p++;
        break;
      }
      fail (&s, "',' or '}' expected");
      goto err;
    }
  skip_ws (&s);
  if (s.p != s.end) {
    fail (&s, "text after the object");
    goto err;
  }
  return 0;
 err:
  s3_creds_doc_free (doc);
  return -1;
}

void
s3_creds_doc_free (struct s3_creds_doc *doc)
{
  text_secret_free (doc->access_key_id);
  text_secret_free (doc->secret_access_key);
  text_secret_free (doc->session_token);
  text_secret_free (doc->token);
  free (doc->expiration);
  free (doc->code);
  free (doc->message);
  memset (doc, 0, sizeof *doc);
}

/* ---- ISO 8601 ---- */

/* N digits at *P into *V.  0 or -1. */
static int
digits (const char **p, int n, int *v)
{
  *v = 0;
  for (int i = 0; i < n; ++i, ++*p) {
    if (**p < '0' || **p > '9')
      return -1;
    *v = *v * 10 + (**p - '0');
  }
  return 0;
}

/* Days from 1970-01-01 to Y-M-D (proleptic Gregorian). */
static int64_t
days_from_civil (int y, int m, int d)
{
  int64_t era, yoe, doy, doe;

  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int
s3_creds_parse_time (const char *s, time_t *t)
{
  int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
  static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30,
                               31 };

  if (digits (&s, 4, &y) || *s++ != '-' || digits (&s, 2, &mo) ||
      *s++ != '-' || digits (&s, 2, &d) || (*s != 'T' && *s != 't' &&
                                            *s != ' '))
    return -1;
  s++;
  if (digits (&s, 2, &h) || *s++ != ':' || digits (&s, 2, &mi) ||
      *s++ != ':' || digits (&s, 2, &sec))
    return -1;
  if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 ||
      mi > 59 || sec > 60)
    return -1;
  if (*s == '.') {
    s++;
    if (*s < '0' || *s > '9')
      return -1;
    while (*s >= '0' && *s <= '9')
      s++;
  }
  if (*s == 'Z' || *s == 'z')
    s++;
  else if (*s == '+' || *s == '-') {
    sign = *s++ == '+' ? 1 : -1;
    if (digits (&s, 2, &oh) || *s++ != ':' || digits (&s, 2, &om) ||
        oh > 23 || om > 59)
      return -1;
  }
  else
    return -1;
  if (*s != '\0')
    return -1;
  *t = (time_t) (days_from_civil (y, mo, d) * 86400 + h * 3600 + mi * 60 +
                 sec - sign * (oh * 3600 + om * 60));
  return 0;
}
