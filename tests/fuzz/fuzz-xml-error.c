/* SPDX-License-Identifier: MIT
 *
 * Fuzz target: s3_xml_parse_error (s3/s3-xml.c), the S3 Error body
 * parser, and s3_error_describe, the log line built from what it parsed:
 * an error body is the part of a response a hostile server controls that
 * reaches the log.
 *
 * It asserts:
 * - a refused body leaves every field empty;
 * - an accepted one has a non-empty Code, and every field is
 *   NUL-terminated within its size, on one line (no control character),
 *   trimmed and valid UTF-8 (a long value is cut at a character boundary);
 * - the same bytes are never both an Error and a listing;
 * - the round trip: the fields written back as an Error document parse to
 *   the same fields;
 * - the describe line of a request for a page fits S3_ERROR_DESCRIBE_MAX
 *   whole (it ends with the request id) and is one line.
 */

#include <config.h>

#include <string.h>

#include "fuzz.h"
#include "s3-error.h"
#include "s3-xml.h"

static void
check_field (const char *f, size_t size)
{
  size_t n = strnlen (f, size);

  FUZZ_CHECK (n < size);
  FUZZ_CHECK (fuzz_no_controls (f));
  FUZZ_CHECK (fuzz_trimmed (f));
  FUZZ_CHECK (fuzz_utf8_valid (f, n));
}

static void
write_error (const struct s3_error *err, struct fuzz_buf *b)
{
  fuzz_buf_printf (b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                   "<Error><Code>");
  fuzz_buf_xml_text (b, err->code);
  fuzz_buf_printf (b, "</Code><Message>");
  fuzz_buf_xml_text (b, err->message);
  fuzz_buf_printf (b, "</Message><BucketName>b</BucketName><RequestId>");
  fuzz_buf_xml_text (b, err->request_id);
  fuzz_buf_printf (b, "</RequestId><HostId>h</HostId></Error>");
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const struct s3_error zero;
  struct s3_error err, again;
  struct s3_list_result res;
  struct fuzz_buf doc = { 0 };
  char line[S3_ERROR_DESCRIBE_MAX];
  size_t n;

  if (s3_xml_parse_error ((const char *) data, size, &err) == -1) {
    FUZZ_CHECK (memcmp (&err, &zero, sizeof err) == 0);
    return 0;
  }
  FUZZ_CHECK (err.code[0] != '\0');
  check_field (err.code, sizeof err.code);
  check_field (err.message, sizeof err.message);
  check_field (err.request_id, sizeof err.request_id);
  FUZZ_CHECK (s3_xml_parse_list ((const char *) data, size, &res) == -1);

  write_error (&err, &doc);
  FUZZ_CHECK (s3_xml_parse_error (doc.p, doc.len, &again) == 0);
  FUZZ_CHECK (strcmp (err.code, again.code) == 0);
  FUZZ_CHECK (strcmp (err.message, again.message) == 0);
  FUZZ_CHECK (strcmp (err.request_id, again.request_id) == 0);
  fuzz_buf_free (&doc);

  FUZZ_CHECK (s3_error_text (&err) != NULL);
  s3_error_describe ("PUT", "exports/default/page-00000000.bin", 503, &err,
                     line, sizeof line);
  n = strlen (line);
  FUZZ_CHECK (n < sizeof line);
  FUZZ_CHECK (fuzz_no_controls (line));
  FUZZ_CHECK (strstr (line, err.code) != NULL);
  FUZZ_CHECK (err.request_id[0] == '\0' || line[n-1] == ')');
  return 0;
}
