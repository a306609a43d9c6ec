/* SPDX-License-Identifier: MIT
 *
 * Fuzz target: nbds3's own parsers of config values: the strict ones
 * plugin/options.c uses for numbers, sizes and booleans
 * (text_parse_decimal, text_parse_size, text_parse_bool), the lenient
 * text_parse_u64 and text_trim (common/text.c), and the endpoint= /
 * bucket= check that
 * builds every request's URL, s3_url_target (s3/s3-url.c).  The input up
 * to its first NUL is the value; split at LF its lines are an endpoint, a
 * bucket and a key.
 *
 * It asserts:
 * - text_parse_decimal accepts exactly what the lenient parser accepts
 *   once it has no white space, and nothing else (no sign, no space, no
 *   0x); text_parse_size accepts digits and at most one of nbdkit's
 *   suffixes, its result a multiple of the suffix's unit, and nothing
 *   over INT64_MAX; text_parse_bool accepts exactly nbdkit's words;
 * - text_parse_u64 agrees with a parser written apart (white space, then
 *   decimal digits without overflow, then white space, and nothing else),
 *   and a number it parses formats and parses back to itself;
 * - text_trim returns the value without its leading spaces and tabs and
 *   its trailing spaces, tabs and CRs, inside the same buffer;
 * - s3_url_target, when it accepts an endpoint, in either addressing
 *   style: the URL is the endpoint's scheme and authority followed by
 *   the path; the Host header is that authority (the bucket in front when
 *   virtual-hosted) without the scheme's default port, free of any byte
 *   that could end or split a header line; the path starts with '/' and
 *   holds only unreserved characters, '/' and %XX; when it refuses, the
 *   target is left empty.
 */

#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "s3-url.h"
#include "text.h"

static bool
ws (char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int
reference_u64 (const char *s, uint64_t *r)
{
  uint64_t v = 0;

  while (ws (*s))
    s++;
  if (!(*s >= '0' && *s <= '9'))
    return -1;
  for (; *s >= '0' && *s <= '9'; ++s) {
    if (v > (UINT64_MAX - (*s - '0')) / 10)
      return -1;
    v = v * 10 + (*s - '0');
  }
  while (ws (*s))
    s++;
  if (*s)
    return -1;
  *r = v;
  return 0;
}

static void
check_u64 (const char *s)
{
  uint64_t a = 0xdeadbeef, b = 0xdeadbeef, c;
  int ra = text_parse_u64 (s, &a), rb = reference_u64 (s, &b);
  char text[64];

  FUZZ_CHECK (ra == rb);
  FUZZ_CHECK (a == b);          /* also: nothing set on failure */
  if (ra == 0) {
    snprintf (text, sizeof text, " %" PRIu64 "\t", a);
    FUZZ_CHECK (text_parse_u64 (text, &c) == 0 && c == a);
  }
}

static bool
all_digits (const char *s, size_t n)
{
  for (size_t i = 0; i < n; ++i)
    if (!(s[i] >= '0' && s[i] <= '9'))
      return false;
  return n > 0;
}

/* The unit of size suffix C, or 0 if C is none. */
static uint64_t
suffix_unit (char c)
{
  const char *units = "bskmgtpe", *u = strchr (units, c | 0x20);

  if (c == '\0' || u == NULL)
    return 0;
  if (*u == 'b')
    return 1;
  if (*u == 's')
    return 512;
  return UINT64_C (1) << (10 * (u - units - 1));
}

static void
check_strict (const char *s)
{
  size_t len = strlen (s);
  uint64_t d = 7, z = 7, lenient;
  int rd = text_parse_decimal (s, &d), rz = text_parse_size (s, &z);
  int rb = text_parse_bool (s);

  FUZZ_CHECK ((rd == 0) == (all_digits (s, len) &&
                            text_parse_u64 (s, &lenient) == 0));
  FUZZ_CHECK (rd == 0 ? d == lenient : d == 7);
  if (rz == 0) {
    uint64_t unit = len > 0 ? suffix_unit (s[len - 1]) : 0;
    FUZZ_CHECK (z <= INT64_MAX);
    if (unit)
      FUZZ_CHECK (all_digits (s, len - 1) && z % unit == 0);
    else
      FUZZ_CHECK (rd == 0 && z == d);
  }
  else
    FUZZ_CHECK (z == 7);
  FUZZ_CHECK (rb >= -1 && rb <= 1);
  if (rb != -1)
    FUZZ_CHECK (len >= 1 && len <= 5 && !ws (s[0]) && !ws (s[len - 1]));
}

static void
check_trim (const char *s)
{
  char *copy = strdup (s), *t;
  size_t start = 0, end = strlen (s);

  FUZZ_CHECK (copy != NULL);
  while (s[start] == ' ' || s[start] == '\t')
    start++;
  while (end > start &&
         (s[end-1] == ' ' || s[end-1] == '\t' || s[end-1] == '\r'))
    end--;
  t = text_trim (copy);
  FUZZ_CHECK (t == copy + start);
  FUZZ_CHECK (strlen (t) == end - start);
  FUZZ_CHECK (memcmp (t, s + start, end - start) == 0);
  free (copy);
}

static bool
path_char (char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
    c == '~' || c == '/' || c == '%';
}

static void
check_url (const char *endpoint, const char *bucket, const char *key,
           bool virtual_hosted)
{
  struct s3_url_target t;
  const char *scheme_end, *auth;
  size_t alen, hlen, plen, ulen;
  struct fuzz_buf want = { 0 };

  if (s3_url_target (endpoint, bucket, virtual_hosted, key, &t) == -1) {
    FUZZ_CHECK (t.url == NULL && t.host == NULL && t.path == NULL);
    return;
  }
  scheme_end = strstr (endpoint, "://");
  FUZZ_CHECK (scheme_end != NULL);
  auth = scheme_end + 3;
  alen = strlen (auth);
  if (alen > 0 && auth[alen-1] == '/')
    alen--;
  FUZZ_CHECK (alen > 0);

  /* The Host header. */
  for (const char *p = t.host; *p; ++p)
    FUZZ_CHECK ((unsigned char) *p > 0x20 && *p != 0x7f && *p != '/');
  hlen = alen;
  if (strncmp (endpoint, "http://", 7) == 0 && alen > 3 &&
      memcmp (auth + alen - 3, ":80", 3) == 0)
    hlen -= 3;
  if (strncmp (endpoint, "https://", 8) == 0 && alen > 4 &&
      memcmp (auth + alen - 4, ":443", 4) == 0)
    hlen -= 4;
  if (virtual_hosted)
    fuzz_buf_printf (&want, "%s.", bucket);
  fuzz_buf_add (&want, auth, hlen);
  FUZZ_CHECK (strcmp (t.host, want.p) == 0);
  fuzz_buf_free (&want);

  /* The path, and the URL around it. */
  FUZZ_CHECK (t.path[0] == '/');
  for (const char *p = t.path; *p; ++p)
    FUZZ_CHECK (path_char (*p));
  fuzz_buf_add (&want, endpoint, scheme_end + 3 - endpoint);
  if (virtual_hosted)
    fuzz_buf_printf (&want, "%s.", bucket);
  fuzz_buf_add (&want, auth, alen);
  plen = strlen (t.path);
  ulen = strlen (t.url);
  FUZZ_CHECK (ulen == want.len + plen);
  FUZZ_CHECK (memcmp (t.url, want.p, want.len) == 0);
  FUZZ_CHECK (strcmp (t.url + want.len, t.path) == 0);
  fuzz_buf_free (&want);
  s3_url_target_free (&t);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *s = fuzz_strndup (data, size), *lines, *endpoint, *bucket, *key;

  check_u64 (s);
  check_strict (s);
  check_trim (s);

  lines = strdup (s);
  FUZZ_CHECK (lines != NULL);
  endpoint = lines;
  bucket = strchr (endpoint, '\n');
  if (bucket) {
    *bucket++ = '\0';
    key = strchr (bucket, '\n');
    if (key)
      *key++ = '\0';
    check_url (endpoint, bucket, key, false);
    check_url (endpoint, bucket, key, true);
  }
  free (lines);
  free (s);
  return 0;
}
