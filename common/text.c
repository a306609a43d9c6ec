/* SPDX-License-Identifier: MIT
 *
 * The text helpers of text.h.
 */

#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

int
text_parse_u64 (const char *s, uint64_t *r)
{
  char *end;
  unsigned long long v;

  while (text_is_space (*s))
    s++;
  if (*s < '0' || *s > '9')
    return -1;
  errno = 0;
  v = strtoull (s, &end, 10);
  if (errno != 0)
    return -1;
  while (text_is_space (*end))
    end++;
  if (*end != '\0')
    return -1;
  *r = v;
  return 0;
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
