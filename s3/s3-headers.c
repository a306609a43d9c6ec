/* SPDX-License-Identifier: MIT
 *
 * The response headers that nbds3's S3 client keeps (s3-http.h): the ETag
 * and the x-amz-meta-* user metadata of a response, taken from header
 * lines as curl hands them over, and looked up by name.  Pure: no curl,
 * no I/O, no locks; s3-http.c's header callback feeds it every line, and
 * the fuzz target does the same without a network.
 *
 * Invariants of what it keeps in struct s3_http_response: every string
 * is NUL-terminated within its field; a value has no leading space or tab
 * and no trailing white space; a metadata name is non-empty and in lower
 * case; a header whose name or value does not fit, or metadata past
 * S3_HTTP_META_COUNT, is ignored rather than cut.
 */

#include <config.h>

#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "s3-http.h"

/* Copy header value V of LEN bytes, trimmed, into OUT of SIZE bytes;
 * false (OUT untouched) if it does not fit.
 */
static bool
header_value (const char *v, size_t len, char *out, size_t size)
{
  while (len > 0 && (*v == ' ' || *v == '\t')) {
    v++;
    len--;
  }
  while (len > 0 && isspace ((unsigned char) v[len - 1]))
    len--;
  if (len >= size)
    return false;
  memcpy (out, v, len);
  out[len] = '\0';
  return true;
}

/* Keep the response's x-amz-meta-NAME header (NAME lowered) in RESP. */
static void
keep_meta (struct s3_http_response *resp, const char *line, size_t n)
{
  const size_t skip = strlen ("x-amz-meta-");
  const char *colon = memchr (line, ':', n);
  size_t name_len;
  struct s3_http_meta *m;

  if (colon == NULL || resp->nmeta >= S3_HTTP_META_COUNT)
    return;
  name_len = colon - line - skip;
  if (name_len == 0 || name_len >= sizeof m->name)
    return;
  m = &resp->meta[resp->nmeta];
  for (size_t i = 0; i < name_len; ++i)
    m->name[i] = tolower ((unsigned char) line[skip + i]);
  m->name[name_len] = '\0';
  if (header_value (colon + 1, n - (colon + 1 - line), m->value,
                    sizeof m->value))
    resp->nmeta++;
}

/* The decimal value of a Content-Length header (VALUE, N bytes, its
 * CRLF included), or -1 if it is not a number.
 */
static int64_t
content_length (const char *value, size_t n)
{
  int64_t v = 0;
  size_t i = 0, digits = 0;

  while (i < n && (value[i] == ' ' || value[i] == '\t'))
    i++;
  for (; i < n && value[i] >= '0' && value[i] <= '9'; ++i, ++digits) {
    if (v > (INT64_MAX - 9) / 10)
      return -1;
    v = v * 10 + (value[i] - '0');
  }
  while (i < n && (value[i] == ' ' || value[i] == '\t' || value[i] == '\r' ||
                   value[i] == '\n'))
    i++;
  return digits > 0 && i == n ? v : -1;
}

/* Header names are case-insensitive. */
void
s3_http_header_line (struct s3_http_response *resp, const char *line,
                     size_t n)
{
  if (n > 5 && strncasecmp (line, "ETag:", 5) == 0)
    header_value (line + 5, n - 5, resp->etag, sizeof resp->etag);
  else if (n > 20 && strncasecmp (line, "x-amz-bucket-region:", 20) == 0)
    header_value (line + 20, n - 20, resp->bucket_region,
                  sizeof resp->bucket_region);
  else if (n > 11 && strncasecmp (line, "x-amz-meta-", 11) == 0)
    keep_meta (resp, line, n);
  else if (n > 15 && strncasecmp (line, "Content-Length:", 15) == 0)
    resp->content_length = content_length (line + 15, n - 15);
}

const char *
s3_http_response_meta (const struct s3_http_response *resp, const char *name)
{
  for (unsigned i = 0; i < resp->nmeta; ++i)
    if (strcmp (resp->meta[i].name, name) == 0)
      return resp->meta[i].value;
  return NULL;
}
