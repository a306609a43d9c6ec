/* SPDX-License-Identifier: MIT
 *
 * The text helpers of text.h.  The number parsers share one digit loop,
 * parse_number, which is the only place that detects overflow.
 */

#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "text.h"

void
text_secret_free (char *s)
{
  if (s) {
    OPENSSL_cleanse (s, strlen (s));
    free (s);
  }
}

bool
text_is_space (char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

char *
text_trim (char *s)
{
  char *end;

  while (*s == ' ' || *s == '\t')
    s++;
  end = s + strlen (s);
  while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
    *--end = '\0';
  return s;
}

/* The decimal digits at the start of S into *R.  The end of the digits
 * (S itself if there are none); *OVERFLOW is set if they exceed
 * UINT64_MAX.
 */
static const char *
parse_digits (const char *s, uint64_t *r, bool *overflow)
{
  uint64_t v = 0;

  *overflow = false;
  for (; *s >= '0' && *s <= '9'; ++s) {
    unsigned d = *s - '0';

    if (v > (UINT64_MAX - d) / 10)
      *overflow = true;
    v = v * 10 + d;
  }
  *r = v;
  return s;
}

/* The number of digits at the start of S, parsed into *R: 0, or -1 with
 * errno set (no digits: EINVAL; too many: ERANGE).  *END is past them.
 */
static int
parse_number (const char *s, uint64_t *r, const char **end)
{
  bool overflow;

  *end = parse_digits (s, r, &overflow);
  if (*end == s) {
    errno = EINVAL;
    return -1;
  }
  if (overflow) {
    errno = ERANGE;
    return -1;
  }
  return 0;
}

int
text_parse_u64 (const char *s, uint64_t *r)
{
  const char *end;
  uint64_t v;

  while (text_is_space (*s))
    s++;
  if (parse_number (s, &v, &end) == -1)
    return -1;
  while (text_is_space (*end))
    end++;
  if (*end != '\0')
    return -1;
  *r = v;
  return 0;
}

int
text_parse_decimal (const char *s, uint64_t *r)
{
  const char *end;
  uint64_t v;

  if (parse_number (s, &v, &end) == -1)
    return -1;
  if (*end != '\0') {
    errno = EINVAL;
    return -1;
  }
  *r = v;
  return 0;
}

/* The multiplier of the size suffix C: 1 for none (C is the NUL), 0 if
 * C is not a suffix.
 */
static uint64_t
size_scale (char c)
{
  static const char powers[] = "kmgtpe";
  const char *p;

  if (c == '\0' || c == 'b' || c == 'B')
    return 1;
  if (c == 's' || c == 'S')
    return 512;
  if (c >= 'A' && c <= 'Z')
    c += 'a' - 'A';
  p = strchr (powers, c);
  return p ? UINT64_C (1024) << (10 * (p - powers)) : 0;
}

int
text_parse_size (const char *s, uint64_t *r)
{
  const char *end;
  uint64_t v, scale;

  if (parse_number (s, &v, &end) == -1)
    return -1;
  scale = size_scale (*end);
  if (scale == 0 || (*end != '\0' && end[1] != '\0')) {
    errno = EINVAL;
    return -1;
  }
  if (v > INT64_MAX / scale) {
    errno = ERANGE;
    return -1;
  }
  *r = v * scale;
  return 0;
}

int
text_parse_bool (const char *s)
{
  static const char *const words[2][6] = {
    { "0", "false", "f", "no", "n", "off" },
    { "1", "true", "t", "yes", "y", "on" },
  };

  for (int b = 0; b < 2; ++b)
    for (size_t i = 0; i < 6; ++i)
      if (strcasecmp (s, words[b][i]) == 0)
        return b;
  return -1;
}

void
text_hex (const uint8_t *in, size_t len, char *out)
{
  static const char digits[] = "0123456789abcdef";

  for (size_t i = 0; i < len; ++i) {
    out[2*i] = digits[in[i] >> 4];
    out[2*i+1] = digits[in[i] & 15];
  }
  out[2*len] = '\0';
}
