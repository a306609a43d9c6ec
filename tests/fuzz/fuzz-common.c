/* SPDX-License-Identifier: MIT
 *
 * The helpers of fuzz.h, shared by every fuzz target.  They are written
 * apart from the parsers under test (the UTF-8 check by byte ranges, the
 * XML writer by hand), so that a target compares two implementations
 * rather than one with itself.
 */

#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

void
fuzz_fail (const char *file, int line, const char *what)
{
  fprintf (stderr, "%s:%d: invariant does not hold: %s\n", file, line, what);
  abort ();
}

static void *
xrealloc (void *p, size_t n)
{
  p = realloc (p, n);
  if (p == NULL)
    fuzz_fail (__FILE__, __LINE__, "out of memory");
  return p;
}

char *
fuzz_strndup (const uint8_t *data, size_t len)
{
  const uint8_t *nul = memchr (data, '\0', len);
  char *s;

  if (nul)
    len = nul - data;
  s = xrealloc (NULL, len + 1);
  memcpy (s, data, len);
  s[len] = '\0';
  return s;
}

void
fuzz_buf_add (struct fuzz_buf *b, const char *s, size_t n)
{
  if (b->len + n + 1 > b->cap) {
    b->cap = (b->len + n + 1) * 2;
    b->p = xrealloc (b->p, b->cap);
  }
  memcpy (b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

void
fuzz_buf_printf (struct fuzz_buf *b, const char *fmt, ...)
{
  va_list args;
  char small[256];
  int n;

  va_start (args, fmt);
  n = vsnprintf (small, sizeof small, fmt, args);
  va_end (args);
  FUZZ_CHECK (n >= 0 && (size_t) n < sizeof small);
  fuzz_buf_add (b, small, n);
}

void
fuzz_buf_xml_text (struct fuzz_buf *b, const char *s)
{
  for (; *s; ++s) {
    unsigned char c = *s;

    if (c == '&')
      fuzz_buf_add (b, "&amp;", 5);
    else if (c == '<')
      fuzz_buf_add (b, "&lt;", 4);
    else if (c == '>')
      fuzz_buf_add (b, "&gt;", 4);
    else if (c < 0x20 || c == 0x7f)
      fuzz_buf_printf (b, "&#%u;", c);
    else
      fuzz_buf_add (b, (const char *) &c, 1);
  }
}

void
fuzz_buf_free (struct fuzz_buf *b)
{
  free (b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

bool
fuzz_utf8_valid (const char *str, size_t len)
{
  const unsigned char *s = (const unsigned char *) str;
  size_t i = 0;

  while (i < len) {
    unsigned char c = s[i];
    unsigned char lo = 0x80, hi = 0xbf;   /* the second byte's range */
    size_t n;

    if (c <= 0x7f) {
      i++;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf)
      n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
      n = 3;
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;
    }
    else if (c >= 0xf0 && c <= 0xf4) {
      n = 4;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;
    }
    else
      return false;
    if (len - i < n || s[i+1] < lo || s[i+1] > hi)
      return false;
    for (size_t k = 2; k < n; ++k)
      if (s[i+k] < 0x80 || s[i+k] > 0xbf)
        return false;
    i += n;
  }
  return true;
}

bool
fuzz_no_controls (const char *s)
{
  for (; *s; ++s)
    if ((unsigned char) *s < 0x20 || *s == 0x7f)
      return false;
  return true;
}

static bool
is_space (char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool
fuzz_trimmed (const char *s)
{
  size_t n = strlen (s);

  return n == 0 || (!is_space (s[0]) && !is_space (s[n-1]));
}
