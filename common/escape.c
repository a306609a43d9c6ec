/* SPDX-License-Identifier: MIT
 *
 * Escaping client text for the log (see escape.h).  It owns one rule:
 * what a client sends may appear in a log line only as printable text of
 * bounded length, so that a newline cannot forge a line and a 4 KiB name
 * cannot flood the log.
 */

#include <config.h>

#include <stdio.h>
#include <string.h>

#include "escape.h"

/* The escape of C into P, which has room for 5 bytes.  Its length. */
static size_t
escape_byte (unsigned char c, char *p)
{
  switch (c) {
  case '\\': return (size_t) sprintf (p, "\\\\");
  case '\'': return (size_t) sprintf (p, "\\'");
  case '\n': return (size_t) sprintf (p, "\\n");
  case '\r': return (size_t) sprintf (p, "\\r");
  case '\t': return (size_t) sprintf (p, "\\t");
  }
  if (c < 0x20 || c == 0x7f)
    return (size_t) sprintf (p, "\\x%02x", c);
  *p = c;
  return 1;
}

const char *
escape_for_log (const char *s, char out[ESCAPE_SIZE])
{
  size_t len = strlen (s), n = 0;

  for (size_t i = 0; i < len && i < ESCAPE_SHOWN; ++i)
    n += escape_byte (s[i], out + n);
  if (len > ESCAPE_SHOWN)
    n += (size_t) snprintf (out + n, ESCAPE_SIZE - n, "...(%zu bytes)", len);
  out[n] = '\0';
  return out;
}
