/* SPDX-License-Identifier: MIT
 *
 * Fuzz target: s3_xml_parse_delete (s3/s3-xml.c), the DeleteResult
 * parser of DeleteObjects, fed whatever a hostile S3 server or proxy
 * could send.
 *
 * It asserts, beyond "no crash, no leak, no undefined behaviour":
 * - an accepted answer counts at most one failure per Error element the
 *   input could hold, and names the first with a non-empty key and code,
 *   each on one line and valid UTF-8;
 * - a refused one reports its failures as none;
 * - the same bytes are never both a DeleteResult and an S3 Error;
 * - the round trip: the failure written back as a DeleteResult (its key
 *   escaped) parses to the same key and code.
 */

#include <config.h>

#include <string.h>

#include "fuzz.h"
#include "s3-xml.h"

#define MIN_ERROR_BYTES (sizeof "<Error><Key>k</Key><Code>c</Code></Error>" - 1)

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char key[1024], key2[1024];
  struct s3_error err, err2;
  struct fuzz_buf doc = { 0 };
  size_t nfailed, n2;

  if (s3_xml_parse_delete ((const char *) data, size, &nfailed, key,
                           sizeof key, &err) == -1) {
    FUZZ_CHECK (nfailed == 0 && key[0] == '\0');
    return 0;
  }
  FUZZ_CHECK (nfailed <= size / MIN_ERROR_BYTES);
  FUZZ_CHECK (s3_xml_parse_error ((const char *) data, size, &err2) == -1);
  if (nfailed == 0)
    return 0;
  FUZZ_CHECK (key[0] != '\0' && err.code[0] != '\0');
  FUZZ_CHECK (fuzz_utf8_valid (key, strlen (key)) && fuzz_no_controls (key));
  FUZZ_CHECK (fuzz_no_controls (err.code));

  fuzz_buf_printf (&doc, "<DeleteResult><Error><Key>");
  fuzz_buf_xml_text (&doc, key);
  fuzz_buf_printf (&doc, "</Key><Code>");
  fuzz_buf_xml_text (&doc, err.code);
  fuzz_buf_printf (&doc, "</Code></Error></DeleteResult>");
  FUZZ_CHECK (s3_xml_parse_delete (doc.p, doc.len, &n2, key2, sizeof key2,
                                   &err2) == 0);
  FUZZ_CHECK (n2 == (strcmp (err.code, "NoSuchKey") != 0));
  if (n2) {
    FUZZ_CHECK (strcmp (key, key2) == 0);
    FUZZ_CHECK (strcmp (err.code, err2.code) == 0);
  }
  fuzz_buf_free (&doc);
  return 0;
}
