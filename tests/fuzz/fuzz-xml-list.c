/* SPDX-License-Identifier: MIT
 *
 * Fuzz target: s3_xml_parse_list (s3/s3-xml.c), the ListObjectsV2 page
 * parser, fed whatever a hostile S3 server or proxy could send.
 *
 * It asserts, beyond "no crash, no leak, no undefined behaviour":
 * - a refused page leaves the result empty (nothing to free);
 * - an accepted one keeps its contract: a NextContinuationToken (non-empty)
 *   exactly when IsTruncated, KeyCount -1 or more, every ETag shorter than
 *   its field, on one line, trimmed and cut at a UTF-8 boundary, and
 *   counts and lengths bounded by the input (no entity expands: a DOCTYPE
 *   is refused);
 * - the same bytes are never both a listing and an S3 Error;
 * - the round trip: the result written back as a ListBucketResult (keys
 *   and tokens escaped) parses to the very same result.
 */

#include <config.h>

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "s3-xml.h"

/* The shortest Contents a listing can hold. */
#define MIN_CONTENTS_BYTES \
  (sizeof "<Contents><Key/><Size>0</Size></Contents>" - 1)
#define MIN_PREFIX_BYTES (sizeof "<Prefix/>" - 1)

static void
check_empty (const struct s3_list_result *res)
{
  FUZZ_CHECK (!res->is_truncated);
  FUZZ_CHECK (res->next_token == NULL);
  FUZZ_CHECK (res->objects == NULL && res->nr_objects == 0);
  FUZZ_CHECK (res->prefixes == NULL && res->nr_prefixes == 0);
}

static void
check_contract (const struct s3_list_result *res, size_t size)
{
  FUZZ_CHECK (res->is_truncated == (res->next_token != NULL));
  FUZZ_CHECK (res->next_token == NULL || res->next_token[0] != '\0');
  FUZZ_CHECK (res->key_count >= -1);
  FUZZ_CHECK (res->nr_objects <= size / MIN_CONTENTS_BYTES);
  FUZZ_CHECK (res->nr_prefixes <= size / MIN_PREFIX_BYTES);
  for (size_t i = 0; i < res->nr_objects; ++i) {
    const struct s3_list_object *o = &res->objects[i];
    size_t n = strnlen (o->etag, sizeof o->etag);

    FUZZ_CHECK (o->key != NULL && strlen (o->key) < size);
    FUZZ_CHECK (fuzz_utf8_valid (o->key, strlen (o->key)));
    FUZZ_CHECK (n < sizeof o->etag);
    FUZZ_CHECK (fuzz_no_controls (o->etag));
    FUZZ_CHECK (fuzz_trimmed (o->etag));
    FUZZ_CHECK (fuzz_utf8_valid (o->etag, n));
  }
  for (size_t i = 0; i < res->nr_prefixes; ++i)
    FUZZ_CHECK (res->prefixes[i] != NULL && strlen (res->prefixes[i]) < size);
}

/* RES as a ListBucketResult document, as radosgw writes one. */
static void
write_listing (const struct s3_list_result *res, struct fuzz_buf *b)
{
  fuzz_buf_printf (b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                   "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/"
                   "2006-03-01/\"><Name>b</Name><Prefix></Prefix>"
                   "<IsTruncated>%s</IsTruncated>",
                   res->is_truncated ? "true" : "false");
  if (res->key_count >= 0)
    fuzz_buf_printf (b, "<KeyCount>%" PRId64 "</KeyCount>", res->key_count);
  if (res->next_token) {
    fuzz_buf_printf (b, "<NextContinuationToken>");
    fuzz_buf_xml_text (b, res->next_token);
    fuzz_buf_printf (b, "</NextContinuationToken>");
  }
  for (size_t i = 0; i < res->nr_objects; ++i) {
    fuzz_buf_printf (b, "<Contents><Key>");
    fuzz_buf_xml_text (b, res->objects[i].key);
    fuzz_buf_printf (b, "</Key><LastModified>2024-05-01T10:00:00.000Z"
                     "</LastModified><ETag>");
    fuzz_buf_xml_text (b, res->objects[i].etag);
    fuzz_buf_printf (b, "</ETag><Size>%" PRIu64 "</Size>"
                     "<StorageClass>STANDARD</StorageClass></Contents>",
                     res->objects[i].size);
  }
  for (size_t i = 0; i < res->nr_prefixes; ++i) {
    fuzz_buf_printf (b, "<CommonPrefixes><Prefix>");
    fuzz_buf_xml_text (b, res->prefixes[i]);
    fuzz_buf_printf (b, "</Prefix></CommonPrefixes>");
  }
  fuzz_buf_printf (b, "</ListBucketResult>");
}

static void
check_same (const struct s3_list_result *a, const struct s3_list_result *b)
{
  FUZZ_CHECK (a->is_truncated == b->is_truncated);
  FUZZ_CHECK ((a->next_token == NULL) == (b->next_token == NULL));
  FUZZ_CHECK (a->next_token == NULL ||
              strcmp (a->next_token, b->next_token) == 0);
  FUZZ_CHECK (a->key_count == b->key_count);
  FUZZ_CHECK (a->nr_objects == b->nr_objects);
  for (size_t i = 0; i < a->nr_objects; ++i) {
    FUZZ_CHECK (strcmp (a->objects[i].key, b->objects[i].key) == 0);
    FUZZ_CHECK (a->objects[i].size == b->objects[i].size);
    FUZZ_CHECK (strcmp (a->objects[i].etag, b->objects[i].etag) == 0);
  }
  FUZZ_CHECK (a->nr_prefixes == b->nr_prefixes);
  for (size_t i = 0; i < a->nr_prefixes; ++i)
    FUZZ_CHECK (strcmp (a->prefixes[i], b->prefixes[i]) == 0);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct s3_list_result res, again;
  struct s3_error err;
  struct fuzz_buf doc = { 0 };

  if (s3_xml_parse_list ((const char *) data, size, &res) == -1) {
    check_empty (&res);
    return 0;
  }
  check_contract (&res, size);
  FUZZ_CHECK (s3_xml_parse_error ((const char *) data, size, &err) == -1);

  write_listing (&res, &doc);
  FUZZ_CHECK (s3_xml_parse_list (doc.p, doc.len, &again) == 0);
  check_same (&res, &again);

  fuzz_buf_free (&doc);
  s3_xml_list_free (&again);
  s3_xml_list_free (&res);
  check_empty (&res);
  return 0;
}
