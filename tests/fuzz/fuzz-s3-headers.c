/* SPDX-License-Identifier: MIT
 *
 * Fuzz target: the response headers the S3 client keeps
 * (s3_http_header_line and s3_http_response_meta, s3/s3-headers.c) and
 * what the S3 store does with the ETag (s3_etag_bare and the ETag table,
 * store/store-s3-etags.c).  The input is a response's header block: split
 * at each LF, every line (its CRLF included) is handed over in a buffer
 * of exactly its size, as curl's header callback gets it, so that ASan
 * sees any read past its end.
 *
 * It asserts:
 * - the ETag and every metadata value fit their fields, have no leading
 *   space or tab and no trailing white space; metadata names are in lower
 *   case and there are at most S3_HTTP_META_COUNT of them;
 *   s3_http_response_meta finds the first entry of a name;
 * - a later ETag header that fits replaces an earlier one (the target
 *   adds one of its own at the end and expects exactly it);
 * - s3_etag_bare takes off one pair of quotes and nothing else;
 * - the ETag table gives back, for a page, exactly the bare ETag it was
 *   given (both its compact hex form and its string form).
 * Lines holding a NUL byte (which RFC 9110 forbids) are checked for
 * bounds only: the C strings kept from them end at the NUL.
 */

#include <config.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "s3-http.h"
#include "store-s3-etags.h"

static void
header_line (struct s3_http_response *resp, const uint8_t *p, size_t n)
{
  char *line = malloc (n ? n : 1);

  FUZZ_CHECK (line != NULL);
  memcpy (line, p, n);
  s3_http_header_line (resp, line, n);
  free (line);
}

static bool
value_trimmed (const char *v)
{
  size_t n = strlen (v);

  return n == 0 ||
    (v[0] != ' ' && v[0] != '\t' && !isspace ((unsigned char) v[n-1]));
}

/* One table for every run, empty between runs (a new one each run
 * would cost more than the rest of the run).
 */
static struct s3_etags t;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  s3_etags_init (&t);
  return 0;
}

static void
check_etag_table (const char *etag)
{
  char bare[S3_HTTP_ETAG_MAX], got[S3_HTTP_ETAG_MAX];
  size_t n = strlen (etag), b;

  s3_etag_bare (etag, bare);
  b = strlen (bare);
  if (n >= 2 && etag[0] == '"' && etag[n-1] == '"')
    FUZZ_CHECK (b == n - 2 && memcmp (bare, etag + 1, b) == 0);
  else
    FUZZ_CHECK (strcmp (bare, etag) == 0);

  FUZZ_CHECK (t.n == 0);
  FUZZ_CHECK (!s3_etags_get (&t, 7, got));
  FUZZ_CHECK (s3_etags_set (&t, 7, etag) == 0);
  FUZZ_CHECK (s3_etags_get (&t, 7, got));
  FUZZ_CHECK (strcmp (got, bare) == 0);
  s3_etags_remove (&t, 7);
  FUZZ_CHECK (!s3_etags_get (&t, 7, got));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct s3_http_response resp;
  bool nul = memchr (data, '\0', size) != NULL;
  static const char last[] = "etag: \"0123456789abcdef0123456789abcdef\"\r\n";

  memset (&resp, 0, sizeof resp);
  for (size_t i = 0; i < size;) {
    const uint8_t *lf = memchr (data + i, '\n', size - i);
    size_t n = lf ? (size_t) (lf - (data + i)) + 1 : size - i;

    header_line (&resp, data + i, n);
    i += n;
  }

  FUZZ_CHECK (strnlen (resp.etag, sizeof resp.etag) < sizeof resp.etag);
  FUZZ_CHECK (resp.nmeta <= S3_HTTP_META_COUNT);
  for (unsigned i = 0; i < resp.nmeta; ++i) {
    const struct s3_http_meta *m = &resp.meta[i];

    FUZZ_CHECK (strnlen (m->name, sizeof m->name) < sizeof m->name);
    FUZZ_CHECK (strnlen (m->value, sizeof m->value) < sizeof m->value);
    for (const char *c = m->name; *c; ++c)
      FUZZ_CHECK (!isupper ((unsigned char) *c));
    if (!nul) {
      FUZZ_CHECK (m->name[0] != '\0' && strchr (m->name, ':') == NULL);
      FUZZ_CHECK (value_trimmed (m->value));
    }
    /* The first entry of that name answers. */
    for (unsigned j = 0; j <= i; ++j)
      if (strcmp (resp.meta[j].name, m->name) == 0) {
        FUZZ_CHECK (s3_http_response_meta (&resp, m->name) ==
                    resp.meta[j].value);
        break;
      }
  }
  if (!nul)
    FUZZ_CHECK (value_trimmed (resp.etag));
  check_etag_table (resp.etag);

  header_line (&resp, (const uint8_t *) last, sizeof last - 1);
  FUZZ_CHECK (strcmp (resp.etag, "\"0123456789abcdef0123456789abcdef\"") == 0);
  check_etag_table (resp.etag);
  return 0;
}
