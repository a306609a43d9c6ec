/* SPDX-License-Identifier: MIT
 *
 * The version helpers of version.h: parsing `nbdkit --version`, comparing
 * versions and the ranges of known nbdkit bugs.  No I/O.
 */

#include <config.h>

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "text.h"
#include "version.h"

#define NBDKIT_PREFIX "nbdkit "

/* One version component: digits up to the next non-digit, at most
 * UINT_MAX.  The position after it, or NULL.
 */
static const char *
parse_component (const char *s, unsigned *r)
{
  char digits[12];
  size_t n = 0;
  uint64_t v;

  while (s[n] >= '0' && s[n] <= '9' && n < sizeof digits - 1)
    n++;
  memcpy (digits, s, n);
  digits[n] = '\0';
  if (text_parse_decimal (digits, &v) == -1 || v > UINT_MAX)
    return NULL;
  *r = v;
  return s + n;
}

int
version_parse_nbdkit (const char *line, struct version *v)
{
  struct version r;
  const char *p = line;

  if (strncmp (p, NBDKIT_PREFIX, strlen (NBDKIT_PREFIX)) != 0)
    return -1;
  p += strlen (NBDKIT_PREFIX);
  if ((p = parse_component (p, &r.major)) == NULL || *p++ != '.' ||
      (p = parse_component (p, &r.minor)) == NULL || *p++ != '.' ||
      (p = parse_component (p, &r.micro)) == NULL)
    return -1;
  if (*p != '\0' && *p != ' ' && *p != '\n')
    return -1;
  *v = r;
  return 0;
}

int
version_compare (const struct version *a, const struct version *b)
{
  if (a->major != b->major)
    return a->major < b->major ? -1 : 1;
  if (a->minor != b->minor)
    return a->minor < b->minor ? -1 : 1;
  if (a->micro != b->micro)
    return a->micro < b->micro ? -1 : 1;
  return 0;
}

bool
version_has_reset_abort (const struct version *v)
{
  static const struct version first = { 1, 32, 4 }, last = { 1, 33, 9 };

  return version_compare (v, &first) >= 0 && version_compare (v, &last) <= 0;
}
