/* SPDX-License-Identifier: MIT
 *
 * The tool's output (tool.h): sizes as the size keys write them, and a
 * small JSON writer whose documents always parse: it places the commas,
 * escapes every string (quotes, backslashes, control characters) and
 * replaces bytes that are not UTF-8 (a host name in a lease, say) with
 * U+FFFD, since JSON text is UTF-8.
 */

#include <config.h>

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <nbdkit-plugin.h>

#include "tool.h"

char *
tool_format_size (uint64_t size, char buf[TOOL_SIZE_MAX])
{
  static const char units[] = "kMGTPE";
  int u = -1;

  while (size != 0 && u < 5 && size % 1024 == 0) {
    size /= 1024;
    u++;
  }
  if (u < 0)
    snprintf (buf, TOOL_SIZE_MAX, "%" PRIu64, size);
  else
    snprintf (buf, TOOL_SIZE_MAX, "%" PRIu64 "%c", size, units[u]);
  return buf;
}

size_t
tool_text_width (const char *s)
{
  size_t n = 0;

  for (; *s; ++s)
    n += ((unsigned char) *s & 0xc0) != 0x80;
  return n;
}

void
tool_print_padded (const char *s, size_t width)
{
  size_t w = tool_text_width (s);

  fputs (s, stdout);
  for (; w < width; ++w)
    fputc (' ', stdout);
}

void
tool_json_init (struct tool_json *j)
{
  memset (j, 0, sizeof *j);
  j->f = stdout;
}

/* The length of the UTF-8 sequence at S (N bytes left), or 0 if it is
 * not a valid one (overlong forms and surrogates included).
 */
static size_t
utf8_length (const unsigned char *s, size_t n)
{
  size_t len;
  uint32_t cp;

  if (s[0] < 0x80)
    return 1;
  if ((s[0] & 0xe0) == 0xc0) { len = 2; cp = s[0] & 0x1f; }
  else if ((s[0] & 0xf0) == 0xe0) { len = 3; cp = s[0] & 0x0f; }
  else if ((s[0] & 0xf8) == 0xf0) { len = 4; cp = s[0] & 0x07; }
  else return 0;
  if (len > n)
    return 0;
  for (size_t i = 1; i < len; ++i) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    cp = cp << 6 | (s[i] & 0x3f);
  }
  if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
      (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
      (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return len;
}

static void
put_string (struct tool_json *j, const char *str)
{
  const unsigned char *s = (const unsigned char *) str;
  size_t n = strlen (str);

  fputc ('"', j->f);
  for (size_t i = 0; i < n;) {
    size_t len;

    if (s[i] == '"' || s[i] == '\\')
      fprintf (j->f, "\\%c", s[i++]);
    else if (s[i] == '\n') {
      fputs ("\\n", j->f);
      i++;
    }
    else if (s[i] < 0x20 || s[i] == 0x7f)
      fprintf (j->f, "\\u%04x", s[i++]);
    else if ((len = utf8_length (s + i, n - i)) == 0) {
      fputs ("\\ufffd", j->f);
      i++;
    }
    else {
      fwrite (s + i, 1, len, j->f);
      i += len;
    }
  }
  fputc ('"', j->f);
}

/* Start a member KEY (NULL: an element, or the document). */
static void
member (struct tool_json *j, const char *key)
{
  if (j->depth > 0) {
    fputs (j->has_items[j->depth] ? ",\n" : "\n", j->f);
    j->has_items[j->depth] = true;
    fprintf (j->f, "%*s", 2 * j->depth, "");
  }
  if (key) {
    put_string (j, key);
    fputs (": ", j->f);
  }
}

static void
begin (struct tool_json *j, const char *key, char open)
{
  member (j, key);
  fputc (open, j->f);
  j->depth++;
  assert (j->depth < TOOL_JSON_DEPTH);
  j->has_items[j->depth] = false;
}

static void
end (struct tool_json *j, char close)
{
  assert (j->depth > 0);
  if (j->has_items[j->depth])
    fprintf (j->f, "\n%*s", 2 * (j->depth - 1), "");
  j->depth--;
  fputc (close, j->f);
}

void
tool_json_begin_object (struct tool_json *j, const char *key)
{
  begin (j, key, '{');
}

void
tool_json_end_object (struct tool_json *j)
{
  end (j, '}');
}

void
tool_json_begin_array (struct tool_json *j, const char *key)
{
  begin (j, key, '[');
}

void
tool_json_end_array (struct tool_json *j)
{
  end (j, ']');
}

void
tool_json_string (struct tool_json *j, const char *key, const char *value)
{
  member (j, key);
  if (value)
    put_string (j, value);
  else
    fputs ("null", j->f);
}

void
tool_json_u64 (struct tool_json *j, const char *key, uint64_t value)
{
  member (j, key);
  fprintf (j->f, "%" PRIu64, value);
}

void
tool_json_bool (struct tool_json *j, const char *key, bool value)
{
  member (j, key);
  fputs (value ? "true" : "false", j->f);
}

int
tool_json_finish (struct tool_json *j)
{
  assert (j->depth == 0);
  fputc ('\n', j->f);
  return tool_flush_stdout ();
}

int
tool_flush_stdout (void)
{
  if (fflush (stdout) == 0 && !ferror (stdout))
    return TOOL_OK;
  if (errno == 0)
    errno = EIO;
  nbdkit_error ("cannot write the output: %m");
  return TOOL_PROBLEM;
}
