/* SPDX-License-Identifier: MIT
 *
 * Unit tests of sigv4.c.  The published AWS SigV4 test suite, whose copy
 * ships in tests/sigv4/v4 ($SIGV4_VECTORS, which make check sets; else
 * $abs_top_srcdir/tests/sigv4/v4) drives one loop test per
 * case, in header and in query mode, asserting the canonical request, the
 * string to sign and the signature separately (plus the Authorization
 * header or the presigned query).  The six *-normalized cases are left
 * out: S3 never normalises paths.  A missing vector directory is a
 * failure, not a skip.  Then the five S3 API reference examples, again
 * stage by stage (canonical request, string to sign, signature), URI
 * encoding, hashing, key derivation and the error paths.
 *
 * This file parses the vectors itself: request.txt (request line, headers
 * with continuation lines, body after the blank line) and context.json
 * (a small purpose-built parser for its flat layout with one nested
 * object).
 */

#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <check.h>

#include "sigv4.h"
#include "check_suites.h"
#include "nbdkit-stubs.h"

#define EXPECTED_CASES 32
#define MAX_CASES 64
#define MAX_ITEMS 16            /* headers or query parameters per request */

static const char *const excluded_cases[] = {
  "get-relative-normalized",
  "get-relative-relative-normalized",
  "get-slash-dot-slash-normalized",
  "get-slash-normalized",
  "get-slash-pointless-dot-normalized",
  "get-slashes-normalized",
};

/* Filled by sigv4_suite before any test runs, read-only afterwards. */
static char vec_dir[PATH_MAX];
static char vec_dir_error[PATH_MAX + 128];
static char case_names[MAX_CASES][256];
static int ncases;

/* ---- Reading files ---- */

/* The whole file, NUL-terminated, or NULL.  *LEN (if not NULL) is its
 * length.
 */
static char *
read_file (const char *path, size_t *len)
{
  FILE *fp = fopen (path, "rb");
  char *buf = NULL;
  size_t cap = 0, n = 0, r;

  if (fp == NULL)
    return NULL;
  do {
    if (cap - n < 4096) {
      char *p = realloc (buf, cap + 8192);
      if (p == NULL) {
        free (buf);
        fclose (fp);
        return NULL;
      }
      buf = p;
      cap += 8192;
    }
    r = fread (buf + n, 1, cap - n - 1, fp);
    n += r;
  } while (r > 0);
  fclose (fp);
  buf[n] = '\0';
  if (len)
    *len = n;
  return buf;
}

/* PATH = <vector dir>/<name>/<file>. */
static void
case_path (char *path, size_t size, const char *name, const char *file)
{
  int n = snprintf (path, size, "%s/%s/%s", vec_dir, name, file);

  ck_assert_msg (n > 0 && (size_t) n < size, "path too long: %s", vec_dir);
}

/* Read <case>/<file>, dropping one trailing newline (the expected files
 * may or may not end with one; none of the compared texts ends with one).
 */
static char *
read_case_file (const char *name, const char *file)
{
  char path[PATH_MAX];
  char *text;
  size_t len;

  case_path (path, sizeof path, name, file);
  text = read_file (path, &len);
  ck_assert_msg (text != NULL, "cannot read %s: %s", path, strerror (errno));
  if (len > 0 && text[len - 1] == '\n')
    text[len - 1] = '\0';
  return text;
}

/* ---- context.json ---- */

struct vec_context {
  char access_key_id[256];
  char secret_access_key[256];
  char token[2048];             /* "" when none */
  char region[64];
  char service[64];
  time_t time;
  unsigned expires;
  bool sign_body;
  bool omit_session_token;
  bool normalize;
};

static void
json_ws (const char **p)
{
  while (**p == ' ' || **p == '\n' || **p == '\r' || **p == '\t')
    (*p)++;
}

/* A JSON string without \u escapes (the vectors have none). */
static bool
json_string (const char **p, char *out, size_t outlen)
{
  size_t n = 0;

  if (**p != '"')
    return false;
  for ((*p)++; **p != '"'; (*p)++) {
    char c = **p;
    if (c == '\0' || n + 1 >= outlen)
      return false;
    if (c == '\\') {
      (*p)++;
      switch (**p) {
      case '"': case '\\': case '/': c = **p; break;
      case 'n': c = '\n'; break;
      case 't': c = '\t'; break;
      default: return false;
      }
    }
    out[n++] = c;
  }
  (*p)++;
  out[n] = '\0';
  return true;
}

static bool
set_string (struct vec_context *ctx, const char *key, const char *v)
{
  struct { const char *key; char *dst; size_t size; } fields[] = {
    { "credentials.access_key_id", ctx->access_key_id,
      sizeof ctx->access_key_id },
    { "credentials.secret_access_key", ctx->secret_access_key,
      sizeof ctx->secret_access_key },
    { "credentials.token", ctx->token, sizeof ctx->token },
    { "region", ctx->region, sizeof ctx->region },
    { "service", ctx->service, sizeof ctx->service },
  };
  struct tm tm = { 0 };

  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; ++i) {
    if (strcmp (key, fields[i].key) == 0)
      return snprintf (fields[i].dst, fields[i].size, "%s", v) <
        (int) fields[i].size;
  }
  if (strcmp (key, "timestamp") == 0) {
    if (sscanf (v, "%4d-%2d-%2dT%2d:%2d:%2dZ", &tm.tm_year, &tm.tm_mon,
                &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
      return false;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    ctx->time = timegm (&tm);
    return true;
  }
  return false;                 /* an unknown key: new semantics? */
}

static bool
set_bool (struct vec_context *ctx, const char *key, bool v)
{
  if (strcmp (key, "sign_body") == 0)
    ctx->sign_body = v;
  else if (strcmp (key, "omit_session_token") == 0)
    ctx->omit_session_token = v;
  else if (strcmp (key, "normalize") == 0)
    ctx->normalize = v;
  else
    return false;
  return true;
}

/* Parse an object at *P; PREFIX is "" at the top, "credentials" inside. */
static bool
json_object (const char **p, const char *prefix, struct vec_context *ctx)
{
  char key[128], full[256], sval[2048];

  json_ws (p);
  if (**p != '{')
    return false;
  (*p)++;
  json_ws (p);
  if (**p == '}') {
    (*p)++;
    return true;
  }
  for (;;) {
    json_ws (p);
    if (!json_string (p, key, sizeof key))
      return false;
    snprintf (full, sizeof full, "%s%s%s", prefix, *prefix ? "." : "", key);
    json_ws (p);
    if (**p != ':')
      return false;
    (*p)++;
    json_ws (p);
    if (**p == '{') {
      if (*prefix || !json_object (p, key, ctx))
        return false;
    }
    else if (**p == '"') {
      if (!json_string (p, sval, sizeof sval) ||
          !set_string (ctx, full, sval))
        return false;
    }
    else if (strncmp (*p, "true", 4) == 0 || strncmp (*p, "false", 5) == 0) {
      bool v = **p == 't';
      *p += v ? 4 : 5;
      if (!set_bool (ctx, full, v))
        return false;
    }
    else if (**p >= '0' && **p <= '9') {
      char *end;
      unsigned long v = strtoul (*p, &end, 10);
      *p = end;
      if (strcmp (full, "expiration_in_seconds") != 0 || v > UINT_MAX)
        return false;
      ctx->expires = v;
    }
    else
      return false;
    json_ws (p);
    if (**p == ',') {
      (*p)++;
      continue;
    }
    if (**p != '}')
      return false;
    (*p)++;
    return true;
  }
}

static void
load_context (const char *name, struct vec_context *ctx)
{
  char *text = read_case_file (name, "context.json");
  const char *p = text;
  bool ok;

  memset (ctx, 0, sizeof *ctx);
  ok = json_object (&p, "", ctx);
  if (ok) {
    json_ws (&p);
    ok = *p == '\0';
  }
  free (text);
  ck_assert_msg (ok, "%s: cannot parse context.json", name);
  ck_assert_msg (ctx->access_key_id[0] && ctx->secret_access_key[0] &&
                 ctx->region[0] && ctx->service[0] && ctx->time != 0,
                 "%s: context.json lacks a required key", name);
}

/* ---- request.txt ---- */

struct vec_request {
  char method[16];
  char path[1024];              /* encoded, as the S3 client passes it */
  char raw_path[512];
  char qname[MAX_ITEMS][256], qvalue[MAX_ITEMS][256];
  struct sigv4_pair query[MAX_ITEMS];
  size_t nquery;
  char hname[MAX_ITEMS][64], hvalue[MAX_ITEMS][512];
  struct sigv4_pair headers[MAX_ITEMS + 1];
  size_t nheaders;
  char body[1024];
  size_t body_len;
};

static int
hexval (char c)
{
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* Percent-decode S[0..N) into OUT. */
static bool
percent_decode (const char *s, size_t n, char *out, size_t outlen)
{
  size_t j = 0;

  for (size_t i = 0; i < n; ++i) {
    char c = s[i];
    if (c == '%') {
      int hi, lo;
      if (i + 2 >= n)
        return false;
      hi = hexval (s[i + 1]);
      lo = hexval (s[i + 2]);
      if (hi < 0 || lo < 0)
        return false;
      c = (char) (hi << 4 | lo);
      i += 2;
    }
    if (j + 1 >= outlen)
      return false;
    out[j++] = c;
  }
  out[j] = '\0';
  return true;
}

/* Split the query QS (N bytes) at '&' and '=' and decode each part. */
static bool
parse_query (const char *qs, size_t n, char names[][256],
             char values[][256], size_t *count)
{
  const char *end = qs + n;

  *count = 0;
  while (qs < end) {
    const char *amp = memchr (qs, '&', end - qs);
    const char *stop = amp ? amp : end;
    const char *eq = memchr (qs, '=', stop - qs);

    if (*count >= MAX_ITEMS)
      return false;
    if (!percent_decode (qs, (eq ? eq : stop) - qs, names[*count], 256) ||
        !percent_decode (eq ? eq + 1 : stop, eq ? stop - eq - 1 : 0,
                         values[*count], 256))
      return false;
    (*count)++;
    qs = amp ? amp + 1 : end;
  }
  return true;
}

/* The target of a request line: between the first and the last space
 * (a path may itself hold spaces: "GET /example space/ HTTP/1.1").
 */
static bool
request_target (const char *line, size_t len, const char **target,
                size_t *tlen, size_t *method_len)
{
  const char *sp1 = memchr (line, ' ', len);
  const char *sp2 = line + len;

  while (sp2 > line && sp2[-1] != ' ')
    sp2--;
  if (sp1 == NULL || sp2 <= sp1 + 1)
    return false;
  *method_len = sp1 - line;
  *target = sp1 + 1;
  *tlen = sp2 - 1 - (sp1 + 1);
  return true;
}

static void
load_request (const char *name, struct vec_request *rq)
{
  size_t len;
  char *text = read_case_file (name, "request.txt");
  const char *p = text, *eol, *target, *qmark;
  size_t tlen, mlen;
  bool ok = false, blank = false;

  memset (rq, 0, sizeof *rq);
  eol = strchr (p, '\n');
  len = eol ? (size_t) (eol - p) : strlen (p);
  if (len > 0 && p[len - 1] == '\r')
    len--;
  if (!request_target (p, len, &target, &tlen, &mlen) ||
      mlen >= sizeof rq->method || tlen >= sizeof rq->raw_path)
    goto out;
  memcpy (rq->method, p, mlen);

  /* The path is raw bytes in the vectors; the query may be encoded. */
  qmark = memchr (target, '?', tlen);
  memcpy (rq->raw_path, target, qmark ? (size_t) (qmark - target) : tlen);
  if (sigv4_uri_encode (rq->raw_path, false, rq->path, sizeof rq->path) < 0)
    goto out;
  if (qmark &&
      !parse_query (qmark + 1, target + tlen - qmark - 1, rq->qname,
                    rq->qvalue, &rq->nquery))
    goto out;
  for (size_t i = 0; i < rq->nquery; ++i)
    rq->query[i] = (struct sigv4_pair) { rq->qname[i], rq->qvalue[i] };

  /* Headers until a blank line; a line starting with white space
   * continues the previous value (obs-fold: joined with a space).
   */
  p = eol ? eol + 1 : p + len;
  while (*p) {
    const char *colon;
    size_t n;

    eol = strchr (p, '\n');
    n = eol ? (size_t) (eol - p) : strlen (p);
    if (n > 0 && p[n - 1] == '\r')
      n--;
    if (n == 0) {
      p = eol ? eol + 1 : p + n;
      blank = true;
      break;
    }
    if (*p == ' ' || *p == '\t') {
      size_t k, vl;
      if (rq->nheaders == 0)
        goto out;
      k = rq->nheaders - 1;
      vl = strlen (rq->hvalue[k]);
      if (vl + 1 + n >= sizeof rq->hvalue[k])
        goto out;
      rq->hvalue[k][vl] = ' ';
      memcpy (rq->hvalue[k] + vl + 1, p, n);
      rq->hvalue[k][vl + 1 + n] = '\0';
    }
    else {
      colon = memchr (p, ':', n);
      if (colon == NULL || rq->nheaders >= MAX_ITEMS ||
          (size_t) (colon - p) >= sizeof rq->hname[0] ||
          n - (colon - p) - 1 >= sizeof rq->hvalue[0])
        goto out;
      memcpy (rq->hname[rq->nheaders], p, colon - p);
      memcpy (rq->hvalue[rq->nheaders], colon + 1, n - (colon - p) - 1);
      rq->nheaders++;
    }
    p = eol ? eol + 1 : p + n;
  }
  for (size_t i = 0; i < rq->nheaders; ++i)
    rq->headers[i] = (struct sigv4_pair) { rq->hname[i], rq->hvalue[i] };

  /* The body: everything after the blank line (the file's own trailing
   * newline, dropped by read_case_file, is not part of it).
   */
  if (blank) {
    rq->body_len = strlen (p);
    if (rq->body_len >= sizeof rq->body)
      goto out;
    memcpy (rq->body, p, rq->body_len);
  }
  ok = true;

 out:
  free (text);
  ck_assert_msg (ok, "%s: cannot parse request.txt", name);
}

/* ---- Comparing query strings as sets of parameters ---- */

static int
cmp_strp (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* Decode and re-encode each parameter of QS, sort, join with '&'.
 * Parameters can be long (a session token), so all of this is on the heap.
 */
static char *
normalise_query (const char *qs)
{
  char *items[MAX_ITEMS];
  size_t n = 0, total = 1;
  char *copy = strdup (qs), *save = NULL, *out;

  ck_assert (copy != NULL);
  for (char *tok = strtok_r (copy, "&", &save); tok;
       tok = strtok_r (NULL, "&", &save)) {
    char *eq = strchr (tok, '=');
    size_t tl = strlen (tok);
    char *dn = malloc (tl + 1), *dv = malloc (tl + 1);
    char *en = malloc (SIGV4_URI_ENCODE_SIZE (tl));
    char *ev = malloc (SIGV4_URI_ENCODE_SIZE (tl));

    ck_assert (n < MAX_ITEMS && dn && dv && en && ev);
    ck_assert (percent_decode (tok, eq ? (size_t) (eq - tok) : tl,
                               dn, tl + 1));
    ck_assert (percent_decode (eq ? eq + 1 : tok + tl,
                               eq ? strlen (eq + 1) : 0, dv, tl + 1));
    ck_assert (sigv4_uri_encode (dn, true, en,
                                 SIGV4_URI_ENCODE_SIZE (tl)) >= 0);
    ck_assert (sigv4_uri_encode (dv, true, ev,
                                 SIGV4_URI_ENCODE_SIZE (tl)) >= 0);
    items[n] = malloc (strlen (en) + strlen (ev) + 2);
    ck_assert (items[n] != NULL);
    sprintf (items[n], "%s=%s", en, ev);
    total += strlen (items[n]) + 1;
    n++;
    free (dn);
    free (dv);
    free (en);
    free (ev);
  }
  free (copy);

  qsort (items, n, sizeof items[0], cmp_strp);
  out = malloc (total);
  ck_assert (out != NULL);
  out[0] = '\0';
  for (size_t i = 0; i < n; ++i) {
    if (i > 0)
      strcat (out, "&");
    strcat (out, items[i]);
    free (items[i]);
  }
  return out;
}

/* The query string of the request line of <case>/query-signed-request.txt. */
static char *
expected_presigned_query (const char *name)
{
  char *text = read_case_file (name, "query-signed-request.txt");
  const char *eol = strchr (text, '\n');
  size_t len = eol ? (size_t) (eol - text) : strlen (text);
  const char *target, *qmark;
  size_t tlen, mlen;
  char *q;

  if (len > 0 && text[len - 1] == '\r')
    len--;
  ck_assert (request_target (text, len, &target, &tlen, &mlen));
  qmark = memchr (target, '?', tlen);
  ck_assert_msg (qmark != NULL, "%s: presigned request has no query", name);
  q = strndup (qmark + 1, target + tlen - qmark - 1);
  ck_assert (q != NULL);
  free (text);
  return q;
}

/* ---- The vector tests ---- */

static void
assert_text (const char *name, const char *what, const char *expected,
             const char *got)
{
  ck_assert_msg (got != NULL && strcmp (expected, got) == 0,
                 "%s: %s differs\n--- expected:\n%s\n--- got:\n%s",
                 name, what, expected, got ? got : "(null)");
}

/* true if PATH needs normalising (dot segments or empty segments). */
static bool
path_needs_normalising (const char *path)
{
  return strstr (path, "//") || strstr (path, "/./") ||
    strstr (path, "/../") ||
    (strlen (path) >= 2 && strcmp (path + strlen (path) - 2, "/.") == 0) ||
    (strlen (path) >= 3 && strcmp (path + strlen (path) - 3, "/..") == 0);
}

static void
run_vector (int i, enum sigv4_mode mode)
{
  const char *name = case_names[i];
  const char *prefix = mode == SIGV4_QUERY ? "query" : "header";
  struct vec_context ctx;
  struct vec_request rq;
  struct sigv4_credentials creds;
  struct sigv4_request req;
  struct sigv4_result res;
  char hash[SIGV4_HEX_SIZE], file[64];
  char *expected;

  ck_assert_int_lt (i, ncases);
  load_context (name, &ctx);
  load_request (name, &rq);

  /* These cases are in the set because their paths need no normalising;
   * a flagged case whose path does would need a normalising signer.
   */
  ck_assert_msg (!(ctx.normalize && path_needs_normalising (rq.raw_path)),
                 "%s: expects a normalised path", name);

  ck_assert_int_eq (sigv4_sha256_hex (rq.body, rq.body_len, hash), 0);
  if (mode == SIGV4_HEADER && ctx.sign_body)
    rq.headers[rq.nheaders++] =
      (struct sigv4_pair) { "x-amz-content-sha256", hash };

  creds = (struct sigv4_credentials) {
    .access_key_id = ctx.access_key_id,
    .secret_access_key = ctx.secret_access_key,
    .session_token = ctx.token[0] ? ctx.token : NULL,
  };
  req = (struct sigv4_request) {
    .mode = mode,
    .method = rq.method,
    .path = rq.path,
    .query = rq.query,
    .nquery = rq.nquery,
    .headers = rq.headers,
    .nheaders = rq.nheaders,
    .payload_hash = hash,
    .expires = ctx.expires,
    .unsigned_token = ctx.omit_session_token,
  };
  ck_assert_msg (sigv4_sign (&req, &creds, ctx.region, ctx.service,
                             ctx.time, &res) == 0,
                 "%s: sigv4_sign failed", name);
  ck_assert_str_eq (res.amz_date, "20150830T123600Z");

  snprintf (file, sizeof file, "%s-canonical-request.txt", prefix);
  expected = read_case_file (name, file);
  assert_text (name, file, expected, res.canonical_request);
  free (expected);

  snprintf (file, sizeof file, "%s-string-to-sign.txt", prefix);
  expected = read_case_file (name, file);
  assert_text (name, file, expected, res.string_to_sign);
  free (expected);

  snprintf (file, sizeof file, "%s-signature.txt", prefix);
  expected = read_case_file (name, file);
  assert_text (name, file, expected, res.signature);
  free (expected);

  if (mode == SIGV4_HEADER) {
    char *signed_req = read_case_file (name, "header-signed-request.txt");
    char *auth = strstr (signed_req, "\nAuthorization:");
    char *eol;

    ck_assert_msg (auth != NULL, "%s: no Authorization line", name);
    auth += strlen ("\nAuthorization:");
    eol = strchr (auth, '\n');
    if (eol)
      *eol = '\0';
    assert_text (name, "Authorization", auth, res.authorization);
    free (signed_req);
    /* The query to send is the canonical one, the request's third line. */
    {
      size_t skip = strlen (rq.method) + strlen (rq.path) + 2;
      ck_assert (strncmp (res.canonical_request + skip, res.query,
                          strlen (res.query)) == 0);
      ck_assert_int_eq (res.canonical_request[skip + strlen (res.query)],
                        '\n');
    }
  }
  else {
    char *want_raw = expected_presigned_query (name);
    char *want = normalise_query (want_raw);
    char *got = normalise_query (res.query);

    ck_assert_ptr_null (res.authorization);
    assert_text (name, "presigned query (as a set)", want, got);
    ck_assert_msg (strstr (res.query, "&X-Amz-Signature=") &&
                   strcmp (strstr (res.query, "&X-Amz-Signature=") +
                           strlen ("&X-Amz-Signature="),
                           res.signature) == 0,
                   "%s: presigned query does not end with the signature",
                   name);
    free (want_raw);
    free (want);
    free (got);
  }
  sigv4_result_free (&res);
}

START_TEST (test_vector_dir)
{
  ck_assert_msg (vec_dir_error[0] == '\0', "%s", vec_dir_error);
  ck_assert_msg (ncases == EXPECTED_CASES,
                 "%s: found %d applicable SigV4 cases, expected %d",
                 vec_dir, ncases, EXPECTED_CASES);
}
END_TEST

START_TEST (test_vector_header)
{
  run_vector (_i, SIGV4_HEADER);
}
END_TEST

START_TEST (test_vector_query)
{
  run_vector (_i, SIGV4_QUERY);
}
END_TEST

/* ---- The S3 API reference examples ---- */

#define EMPTY_SHA256 \
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define S3_HOST "examplebucket.s3.amazonaws.com"
#define S3_TIME ((time_t) 1369353600)  /* 2013-05-24T00:00:00Z */

static const struct sigv4_credentials s3_creds = {
  .access_key_id = "AKIAIOSFODNN7EXAMPLE",
  .secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
};

/* The string to sign of an S3 example up to the canonical request hash. */
#define S3_STS_PREFIX \
  "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"

static void
sign_s3 (const struct sigv4_request *req, struct sigv4_result *res)
{
  ck_assert_int_eq (sigv4_sign (req, &s3_creds, "us-east-1", "s3", S3_TIME,
                                res), 0);
  ck_assert_str_eq (res->amz_date, "20130524T000000Z");
  ck_assert_ptr_null (strstr (res->canonical_request,
                              s3_creds.secret_access_key));
  ck_assert_ptr_null (strstr (res->string_to_sign,
                              s3_creds.secret_access_key));
  if (res->authorization)
    ck_assert_ptr_null (strstr (res->authorization,
                                s3_creds.secret_access_key));
}

START_TEST (test_s3_get_object)
{
  const struct sigv4_pair headers[] = {
    { "Host", S3_HOST },
    { "Range", "bytes=0-9" },
    { "x-amz-content-sha256", EMPTY_SHA256 },
  };
  const struct sigv4_request req = {
    .mode = SIGV4_HEADER, .method = "GET", .path = "/test.txt",
    .headers = headers, .nheaders = 3, .payload_hash = EMPTY_SHA256,
  };
  struct sigv4_result res;

  sign_s3 (&req, &res);
  ck_assert_str_eq (res.canonical_request,
                    "GET\n/test.txt\n\n"
                    "host:" S3_HOST "\n"
                    "range:bytes=0-9\n"
                    "x-amz-content-sha256:" EMPTY_SHA256 "\n"
                    "x-amz-date:20130524T000000Z\n\n"
                    "host;range;x-amz-content-sha256;x-amz-date\n"
                    EMPTY_SHA256);
  ck_assert_str_eq (res.string_to_sign,
                    S3_STS_PREFIX "7344ae5b7ee6c3e7e6b0fe0640412a37"
                    "625d1fbfff95c48bbb2dc43964946972");
  ck_assert_str_eq (res.signature,
                    "f0e8bdb87c964420e857bd35b5d6ed31"
                    "0bd44f0170aba48dd91039c6036bdb41");
  ck_assert_str_eq (res.authorization,
                    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/"
                    "20130524/us-east-1/s3/aws4_request, "
                    "SignedHeaders=host;range;x-amz-content-sha256;"
                    "x-amz-date, Signature="
                    "f0e8bdb87c964420e857bd35b5d6ed31"
                    "0bd44f0170aba48dd91039c6036bdb41");
  ck_assert_str_eq (res.query, "");
  sigv4_result_free (&res);
}
END_TEST

START_TEST (test_s3_put_object)
{
  static const char body[] = "Welcome to Amazon S3.";
  char hash[SIGV4_HEX_SIZE], path[64];
  struct sigv4_result res;

  ck_assert_int_eq (sigv4_sha256_hex (body, strlen (body), hash), 0);
  ck_assert_str_eq (hash, "44ce7dd67c959e0d3524ffac1771dfbb"
                    "a87d2b6b4b4e99e42034a8b803f8b072");
  ck_assert_int_eq (sigv4_uri_encode ("/test$file.text", false,
                                      path, sizeof path), 17);
  ck_assert_str_eq (path, "/test%24file.text");
  {
    const struct sigv4_pair headers[] = {
      { "Host", S3_HOST },
      { "Date", "Fri, 24 May 2013 00:00:00 GMT" },
      { "x-amz-storage-class", "REDUCED_REDUNDANCY" },
      { "x-amz-content-sha256", hash },
    };
    const struct sigv4_request req = {
      .mode = SIGV4_HEADER, .method = "PUT", .path = path,
      .headers = headers, .nheaders = 4, .payload_hash = hash,
    };

    sign_s3 (&req, &res);
  }
  ck_assert_str_eq (res.canonical_request,
                    "PUT\n/test%24file.text\n\n"
                    "date:Fri, 24 May 2013 00:00:00 GMT\n"
                    "host:" S3_HOST "\n"
                    "x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbb"
                    "a87d2b6b4b4e99e42034a8b803f8b072\n"
                    "x-amz-date:20130524T000000Z\n"
                    "x-amz-storage-class:REDUCED_REDUNDANCY\n\n"
                    "date;host;x-amz-content-sha256;x-amz-date;"
                    "x-amz-storage-class\n"
                    "44ce7dd67c959e0d3524ffac1771dfbb"
                    "a87d2b6b4b4e99e42034a8b803f8b072");
  ck_assert_str_eq (res.string_to_sign,
                    S3_STS_PREFIX "9e0e90d9c76de8fa5b200d8c849cd5b8"
                    "dc7a3be3951ddb7f6a76b4158342019d");
  ck_assert_str_eq (res.signed_headers,
                    "date;host;x-amz-content-sha256;x-amz-date;"
                    "x-amz-storage-class");
  ck_assert_str_eq (res.signature,
                    "98ad721746da40c64f1a55b78f14c238"
                    "d841ea1380cd77a1b5971af0ece108bd");
  sigv4_result_free (&res);
}
END_TEST

/* The PUT example above signed as S3 signs UNSIGNED-PAYLOAD
 * (payload-signing=unsigned): the same headers, UNSIGNED-PAYLOAD both as
 * x-amz-content-sha256 and as the canonical request's last line.  AWS
 * publishes no header-signed vector for it; the hash and signature here
 * come from an independent implementation (Python's hashlib and hmac)
 * of the same steps.
 */
START_TEST (test_s3_put_object_unsigned)
{
  const struct sigv4_pair headers[] = {
    { "Host", S3_HOST },
    { "Date", "Fri, 24 May 2013 00:00:00 GMT" },
    { "x-amz-storage-class", "REDUCED_REDUNDANCY" },
    { "x-amz-content-sha256", SIGV4_UNSIGNED_PAYLOAD },
  };
  const struct sigv4_request req = {
    .mode = SIGV4_HEADER, .method = "PUT", .path = "/test%24file.text",
    .headers = headers, .nheaders = 4,
    .payload_hash = SIGV4_UNSIGNED_PAYLOAD,
  };
  struct sigv4_result res;

  sign_s3 (&req, &res);
  ck_assert_str_eq (res.canonical_request,
                    "PUT\n/test%24file.text\n\n"
                    "date:Fri, 24 May 2013 00:00:00 GMT\n"
                    "host:" S3_HOST "\n"
                    "x-amz-content-sha256:UNSIGNED-PAYLOAD\n"
                    "x-amz-date:20130524T000000Z\n"
                    "x-amz-storage-class:REDUCED_REDUNDANCY\n\n"
                    "date;host;x-amz-content-sha256;x-amz-date;"
                    "x-amz-storage-class\n"
                    "UNSIGNED-PAYLOAD");
  ck_assert_str_eq (res.string_to_sign,
                    S3_STS_PREFIX "54d7700ff4231fe9464fdf78b5abd5f7"
                    "0fcebbd7b27d809fc4199b2a3ebc2dcb");
  ck_assert_str_eq (res.signature,
                    "91c6efc02b5801e55e03b4a83a22d6b4"
                    "f85a6010fa94d5a87f88e41c5ee1bf46");
  sigv4_result_free (&res);
}
END_TEST

/* The canonical request of the two GET / examples, with the canonical
 * query Q.
 */
#define S3_GET_BUCKET_REQUEST(q)                        \
  "GET\n/\n" q "\n"                                     \
  "host:" S3_HOST "\n"                                  \
  "x-amz-content-sha256:" EMPTY_SHA256 "\n"             \
  "x-amz-date:20130524T000000Z\n\n"                     \
  "host;x-amz-content-sha256;x-amz-date\n" EMPTY_SHA256

START_TEST (test_s3_get_lifecycle)
{
  const struct sigv4_pair query[] = { { "lifecycle", "" } };
  const struct sigv4_pair headers[] = {
    { "Host", S3_HOST },
    { "x-amz-content-sha256", EMPTY_SHA256 },
  };
  const struct sigv4_request req = {
    .mode = SIGV4_HEADER, .method = "GET", .path = "/",
    .query = query, .nquery = 1,
    .headers = headers, .nheaders = 2, .payload_hash = EMPTY_SHA256,
  };
  struct sigv4_result res;

  sign_s3 (&req, &res);
  ck_assert_str_eq (res.canonical_request,
                    S3_GET_BUCKET_REQUEST ("lifecycle="));
  ck_assert_str_eq (res.string_to_sign,
                    S3_STS_PREFIX "9766c798316ff2757b517bc739a67f62"
                    "13b4ab36dd5da2f94eaebf79c77395ca");
  ck_assert_str_eq (res.query, "lifecycle=");
  ck_assert_str_eq (res.signed_headers,
                    "host;x-amz-content-sha256;x-amz-date");
  ck_assert_str_eq (res.signature,
                    "fea454ca298b7da1c68078a5d1bdbfbb"
                    "e0d65c699e0f91ac7a200a0136783543");
  sigv4_result_free (&res);
}
END_TEST

START_TEST (test_s3_list_objects)
{
  /* Given out of order: the signer sorts. */
  const struct sigv4_pair query[] = { { "prefix", "J" }, { "max-keys", "2" } };
  const struct sigv4_pair headers[] = {
    { "host", S3_HOST },
    { "x-amz-content-sha256", EMPTY_SHA256 },
  };
  const struct sigv4_request req = {
    .mode = SIGV4_HEADER, .method = "GET", .path = "/",
    .query = query, .nquery = 2,
    .headers = headers, .nheaders = 2, .payload_hash = EMPTY_SHA256,
  };
  struct sigv4_result res;

  sign_s3 (&req, &res);
  ck_assert_str_eq (res.canonical_request,
                    S3_GET_BUCKET_REQUEST ("max-keys=2&prefix=J"));
  ck_assert_str_eq (res.string_to_sign,
                    S3_STS_PREFIX "df57d21db20da04d7fa30298dd4488ba"
                    "3a2b47ca3a489c74750e0f1e7df1b9b7");
  ck_assert_str_eq (res.query, "max-keys=2&prefix=J");
  ck_assert_str_eq (res.signature,
                    "34b48302e7b5fa45bde8084f4b7868a8"
                    "6f0a534bc59db6670ed5711ef69dc6f7");
  sigv4_result_free (&res);
}
END_TEST

START_TEST (test_s3_presigned_get)
{
  const struct sigv4_pair headers[] = { { "Host", S3_HOST } };
  const struct sigv4_request req = {
    .mode = SIGV4_QUERY, .method = "GET", .path = "/test.txt",
    .headers = headers, .nheaders = 1,
    .payload_hash = SIGV4_UNSIGNED_PAYLOAD, .expires = 86400,
  };
  struct sigv4_result res;

  sign_s3 (&req, &res);
  ck_assert_ptr_null (res.authorization);
  ck_assert_str_eq (res.canonical_request,
                    "GET\n/test.txt\n"
                    "X-Amz-Algorithm=AWS4-HMAC-SHA256"
                    "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524"
                    "%2Fus-east-1%2Fs3%2Faws4_request"
                    "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400"
                    "&X-Amz-SignedHeaders=host\n"
                    "host:" S3_HOST "\n\n"
                    "host\n" SIGV4_UNSIGNED_PAYLOAD);
  ck_assert_str_eq (res.string_to_sign,
                    S3_STS_PREFIX "3bfa292879f6447bbcda7001decf97f4"
                    "a54dc650c8942174ae0a9121cf58ad04");
  ck_assert_str_eq (res.signature,
                    "aeeed9bbccd4d02ee5c0109b86d86835"
                    "f995330da4c265957d157751f604d404");
  ck_assert_str_eq (res.query,
                    "X-Amz-Algorithm=AWS4-HMAC-SHA256"
                    "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524"
                    "%2Fus-east-1%2Fs3%2Faws4_request"
                    "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400"
                    "&X-Amz-SignedHeaders=host"
                    "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835"
                    "f995330da4c265957d157751f604d404");
  sigv4_result_free (&res);
}
END_TEST

/* ---- URI encoding, hashing, key derivation ---- */

static void
assert_encodes (const char *in, bool encode_slash, const char *want)
{
  char out[256];
  ssize_t n = sigv4_uri_encode (in, encode_slash, out, sizeof out);

  ck_assert_int_eq (n, (ssize_t) strlen (want));
  ck_assert_str_eq (out, want);
}

START_TEST (test_uri_encode)
{
  assert_encodes ("", false, "");
  assert_encodes ("/exports/d/page-0000000a.bin", false,
                  "/exports/d/page-0000000a.bin");
  assert_encodes ("/exports/d/page-0000000a.bin", true,
                  "%2Fexports%2Fd%2Fpage-0000000a.bin");
  assert_encodes ("/a b/c", false, "/a%20b/c");
  assert_encodes ("caf\xc3\xa9", false, "caf%C3%A9");
  assert_encodes ("\xe1\x88\xb4", true, "%E1%88%B4");
  assert_encodes ("~-_.AZaz09", true, "~-_.AZaz09");
  assert_encodes ("*", false, "%2A");
  assert_encodes ("+", false, "%2B");
  assert_encodes ("a=b&c%d?e#f", false, "a%3Db%26c%25d%3Fe%23f");
  assert_encodes ("\x01\x7f\xff", false, "%01%7F%FF");
  /* Never normalised. */
  assert_encodes ("/./../a//b/.", false, "/./../a//b/.");
}
END_TEST

START_TEST (test_uri_encode_small_buffer)
{
  char out[8], msg[256];

  stub_reset_errors ();
  ck_assert_int_eq (sigv4_uri_encode ("abcdefg", false, out, 8), 7);
  ck_assert_str_eq (out, "abcdefg");
  ck_assert_int_eq (sigv4_uri_encode ("abcdefgh", false, out, 8), -1);
  ck_assert_int_eq (sigv4_uri_encode ("abcd f", false, out, 8), -1);
  ck_assert_int_eq (sigv4_uri_encode ("abc f", false, out, 8), 7);
  ck_assert_str_eq (out, "abc%20f");
  ck_assert_int_eq (sigv4_uri_encode ("", false, out, 1), 0);
  ck_assert_int_eq (sigv4_uri_encode ("", false, out, 0), -1);
  ck_assert_uint_eq (stub_error_count (), 3);
  ck_assert_ptr_nonnull (strstr (stub_last_error (msg, sizeof msg),
                                 "URI encoding"));
}
END_TEST

START_TEST (test_sha256_hex)
{
  char hex[SIGV4_HEX_SIZE];

  ck_assert_int_eq (sigv4_sha256_hex ("", 0, hex), 0);
  ck_assert_str_eq (hex, EMPTY_SHA256);
  ck_assert_int_eq (sigv4_sha256_hex ("abc", 3, hex), 0);
  ck_assert_str_eq (hex, "ba7816bf8f01cfea414140de5dae2223"
                    "b00361a396177a9cb410ff61f20015ad");
}
END_TEST

START_TEST (test_signing_key)
{
  /* The example of AWS's "derive a signing key" documentation. */
  unsigned char key[SIGV4_KEY_SIZE];
  char hex[2 * SIGV4_KEY_SIZE + 1];

  ck_assert_int_eq (sigv4_signing_key
                    ("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                     "20120215", "us-east-1", "iam", key), 0);
  for (size_t i = 0; i < sizeof key; ++i)
    sprintf (hex + 2 * i, "%02x", key[i]);
  ck_assert_str_eq (hex, "f4780e2d9f65fa895f9c67b32ce1baf0"
                    "b0d8a43505a000a1a9e090d414db404d");
}
END_TEST

START_TEST (test_long_secret)
{
  /* A secret longer than the stack buffer takes the heap path. */
  char secret[300];
  unsigned char k1[SIGV4_KEY_SIZE], k2[SIGV4_KEY_SIZE];

  memset (secret, 'x', sizeof secret - 1);
  secret[sizeof secret - 1] = '\0';
  ck_assert_int_eq (sigv4_signing_key (secret, "20150830", "r", "s", k1), 0);
  secret[0] = 'y';
  ck_assert_int_eq (sigv4_signing_key (secret, "20150830", "r", "s", k2), 0);
  ck_assert (memcmp (k1, k2, sizeof k1) != 0);
}
END_TEST

/* ---- Header canonicalisation and errors ---- */

START_TEST (test_header_values)
{
  const struct sigv4_pair headers[] = {
    { "X-B", "\t two  \t words  " },
    { "host", "h" },
    { "x-b", "second" },
    { "X-A", "" },
  };
  const struct sigv4_request req = {
    .mode = SIGV4_HEADER, .method = "GET", .path = "/",
    .headers = headers, .nheaders = 4, .payload_hash = EMPTY_SHA256,
  };
  struct sigv4_result res;

  sign_s3 (&req, &res);
  ck_assert_str_eq (res.canonical_request,
                    "GET\n/\n\nhost:h\nx-a:\nx-amz-date:20130524T000000Z\n"
                    "x-b:two words,second\n\n"
                    "host;x-a;x-amz-date;x-b\n" EMPTY_SHA256);
  sigv4_result_free (&res);
  sigv4_result_free (&res);     /* twice is harmless */
}
END_TEST

START_TEST (test_session_token_header)
{
  const struct sigv4_credentials creds = {
    .access_key_id = "AKID", .secret_access_key = "secret",
    .session_token = "tok en",
  };
  const struct sigv4_pair headers[] = { { "host", "h" } };
  struct sigv4_request req = {
    .mode = SIGV4_HEADER, .method = "GET", .path = "/",
    .headers = headers, .nheaders = 1, .payload_hash = EMPTY_SHA256,
  };
  struct sigv4_result res;

  ck_assert_int_eq (sigv4_sign (&req, &creds, "r", "s3", S3_TIME, &res), 0);
  ck_assert_str_eq (res.signed_headers, "host;x-amz-date;x-amz-security-token");
  ck_assert_ptr_nonnull (strstr (res.canonical_request,
                                 "\nx-amz-security-token:tok en\n"));
  sigv4_result_free (&res);

  req.unsigned_token = true;
  ck_assert_int_eq (sigv4_sign (&req, &creds, "r", "s3", S3_TIME, &res), 0);
  ck_assert_str_eq (res.signed_headers, "host;x-amz-date");
  sigv4_result_free (&res);

  /* Query mode: signed as a parameter, or appended unsigned. */
  req.mode = SIGV4_QUERY;
  req.expires = 60;
  req.unsigned_token = false;
  ck_assert_int_eq (sigv4_sign (&req, &creds, "r", "s3", S3_TIME, &res), 0);
  ck_assert_ptr_nonnull (strstr (res.canonical_request,
                                 "&X-Amz-Security-Token=tok%20en&"));
  sigv4_result_free (&res);
  req.unsigned_token = true;
  ck_assert_int_eq (sigv4_sign (&req, &creds, "r", "s3", S3_TIME, &res), 0);
  ck_assert_ptr_null (strstr (res.canonical_request, "Security-Token"));
  ck_assert_ptr_nonnull (strstr (res.query,
                                 "&X-Amz-Security-Token=tok%20en"
                                 "&X-Amz-Signature="));
  sigv4_result_free (&res);
}
END_TEST

START_TEST (test_query_order)
{
  /* Sorted by encoded name, then by encoded value; "Param" before
   * "Param-3" (names compared apart from values), UTF-8 as %XX first.
   */
  const struct sigv4_pair query[] = {
    { "b", "2" }, { "b", "1" }, { "Param-3", "x" }, { "Param", "y" },
    { "\xc3\xa9", "e" }, { "a b", "+/" }, { "b", NULL },
  };
  const struct sigv4_pair headers[] = { { "host", "h" } };
  const struct sigv4_request req = {
    .mode = SIGV4_HEADER, .method = "GET", .path = "/",
    .query = query, .nquery = 7,
    .headers = headers, .nheaders = 1, .payload_hash = EMPTY_SHA256,
  };
  struct sigv4_result res;

  sign_s3 (&req, &res);
  ck_assert_str_eq (res.query, "%C3%A9=e&Param=y&Param-3=x&a%20b=%2B%2F"
                    "&b=&b=1&b=2");
  sigv4_result_free (&res);
}
END_TEST

START_TEST (test_owned_names_refused)
{
  const struct sigv4_pair bad_headers[] = {
    { "host", "h" }, { "X-Amz-Date", "20130524T000000Z" },
  };
  const struct sigv4_pair bad_query[] = { { "X-Amz-Signature", "x" } };
  struct sigv4_request req = {
    .mode = SIGV4_HEADER, .method = "GET", .path = "/",
    .headers = bad_headers, .nheaders = 2, .payload_hash = EMPTY_SHA256,
  };
  struct sigv4_result res;
  char msg[256];

  stub_reset_errors ();
  ck_assert_int_eq (sigv4_sign (&req, &s3_creds, "us-east-1", "s3", S3_TIME,
                                &res), -1);
  ck_assert_ptr_null (res.canonical_request);
  ck_assert_ptr_null (res.storage);
  ck_assert_ptr_nonnull (strstr (stub_last_error (msg, sizeof msg),
                                 "X-Amz-Date"));
  sigv4_result_free (&res);

  req.nheaders = 1;
  req.mode = SIGV4_QUERY;
  req.query = bad_query;
  req.nquery = 1;
  ck_assert_int_eq (sigv4_sign (&req, &s3_creds, "us-east-1", "s3", S3_TIME,
                                &res), -1);
  ck_assert_ptr_nonnull (strstr (stub_last_error (msg, sizeof msg),
                                 "X-Amz-Signature"));
  ck_assert_uint_eq (stub_error_count (), 2);
  /* No message ever carries the secret. */
  ck_assert_ptr_null (strstr (msg, s3_creds.secret_access_key));
}
END_TEST

START_TEST (test_many_items)
{
  /* More headers and parameters than the signer keeps on its stack. */
  struct sigv4_pair headers[40], query[40];
  char names[40][16], qnames[40][16];
  struct sigv4_request req = {
    .mode = SIGV4_HEADER, .method = "GET", .path = "/",
    .headers = headers, .nheaders = 40, .query = query, .nquery = 40,
    .payload_hash = EMPTY_SHA256,
  };
  struct sigv4_result res;

  for (int i = 0; i < 40; ++i) {
    snprintf (names[i], sizeof names[i], "x-h%02d", 39 - i);
    snprintf (qnames[i], sizeof qnames[i], "q%02d", 39 - i);
    headers[i] = (struct sigv4_pair) { names[i], "v" };
    query[i] = (struct sigv4_pair) { qnames[i], NULL };
  }
  sign_s3 (&req, &res);
  ck_assert (strncmp (res.query, "q00=&q01=&q02=", 14) == 0);
  ck_assert (strncmp (res.signed_headers, "x-amz-date;x-h00;x-h01;", 23)
             == 0);
  ck_assert_ptr_nonnull (strstr (res.canonical_request,
                                 "\nx-h39:v\n\nx-amz-date;"));
  sigv4_result_free (&res);
}
END_TEST

START_TEST (test_bad_time)
{
  const struct sigv4_pair headers[] = { { "host", "h" } };
  const struct sigv4_request req = {
    .mode = SIGV4_HEADER, .method = "GET", .path = "/",
    .headers = headers, .nheaders = 1, .payload_hash = EMPTY_SHA256,
  };
  struct sigv4_result res;

  stub_reset_errors ();
  ck_assert_int_eq (sigv4_sign (&req, &s3_creds, "us-east-1", "s3",
                                (time_t) INT64_MAX, &res), -1);
  ck_assert_uint_eq (stub_error_count (), 1);
  ck_assert_ptr_null (res.storage);
}
END_TEST

/* ---- The suite ---- */

static int
cmp_names (const void *a, const void *b)
{
  return strcmp ((const char *) a, (const char *) b);
}

/* Find the vector directory and list its applicable cases. */
static void
scan_vectors (void)
{
  const char *env = getenv ("SIGV4_VECTORS");
  const char *top = getenv ("abs_top_srcdir");
  DIR *dir;
  struct dirent *d;

  ncases = 0;
  vec_dir_error[0] = '\0';
  if (env && *env)
    snprintf (vec_dir, sizeof vec_dir, "%s", env);
  else if (top && *top)
    snprintf (vec_dir, sizeof vec_dir, "%s/tests/sigv4/v4", top);
  else {
    snprintf (vec_dir_error, sizeof vec_dir_error,
              "SigV4 test vectors not found: set SIGV4_VECTORS to "
              "tests/sigv4/v4 (make check sets it)");
    return;
  }
  dir = opendir (vec_dir);
  if (dir == NULL) {
    snprintf (vec_dir_error, sizeof vec_dir_error,
              "SigV4 test vectors missing: cannot open %s: %s",
              vec_dir, strerror (errno));
    return;
  }
  while ((d = readdir (dir)) != NULL) {
    char path[PATH_MAX];
    struct stat st;
    bool skip = d->d_name[0] == '.';

    for (size_t i = 0;
         !skip && i < sizeof excluded_cases / sizeof excluded_cases[0]; ++i)
      skip = strcmp (d->d_name, excluded_cases[i]) == 0;
    if (!skip) {
      int n = snprintf (path, sizeof path, "%s/%s/request.txt",
                        vec_dir, d->d_name);
      skip = n < 0 || (size_t) n >= sizeof path;
    }
    if (skip || stat (path, &st) == -1)
      continue;
    if (ncases == MAX_CASES || strlen (d->d_name) >= sizeof case_names[0]) {
      snprintf (vec_dir_error, sizeof vec_dir_error,
                "%s: too many cases or too long a name", vec_dir);
      break;
    }
    strcpy (case_names[ncases++], d->d_name);
  }
  closedir (dir);
  qsort (case_names, ncases, sizeof case_names[0], cmp_names);
}

Suite *
sigv4_suite (void)
{
  Suite *s = suite_create ("sigv4");
  TCase *tc;

  scan_vectors ();

  tc = tcase_create ("vectors");
  tcase_add_test (tc, test_vector_dir);
  tcase_add_loop_test (tc, test_vector_header, 0, ncases);
  tcase_add_loop_test (tc, test_vector_query, 0, ncases);
  suite_add_tcase (s, tc);

  tc = tcase_create ("s3-examples");
  tcase_add_test (tc, test_s3_get_object);
  tcase_add_test (tc, test_s3_put_object);
  tcase_add_test (tc, test_s3_put_object_unsigned);
  tcase_add_test (tc, test_s3_get_lifecycle);
  tcase_add_test (tc, test_s3_list_objects);
  tcase_add_test (tc, test_s3_presigned_get);
  suite_add_tcase (s, tc);

  tc = tcase_create ("primitives");
  tcase_add_test (tc, test_uri_encode);
  tcase_add_test (tc, test_uri_encode_small_buffer);
  tcase_add_test (tc, test_sha256_hex);
  tcase_add_test (tc, test_signing_key);
  tcase_add_test (tc, test_long_secret);
  suite_add_tcase (s, tc);

  tc = tcase_create ("canonical");
  tcase_add_test (tc, test_header_values);
  tcase_add_test (tc, test_session_token_header);
  tcase_add_test (tc, test_query_order);
  tcase_add_test (tc, test_owned_names_refused);
  tcase_add_test (tc, test_many_items);
  tcase_add_test (tc, test_bad_time);
  suite_add_tcase (s, tc);

  return s;
}
