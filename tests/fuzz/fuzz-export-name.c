/* SPDX-License-Identifier: MIT
 *
 * Fuzz target: store_export_name_valid (store/store.c), the one check on
 * the export name a client sends, before the name becomes part of a path
 * (FS store) or an object key (S3 store).  The input up to its first NUL
 * is the name, as nbdkit hands it over.
 *
 * It asserts, for every name accepted:
 * - the rule as documented in store.h: 1 to STORE_EXPORT_NAME_MAX bytes,
 *   no '/', no control character, no leading '.' (so neither "." nor ".."
 *   nor a hidden file), checked here byte by byte;
 * - valid UTF-8 by a decoder written apart (Unicode's table 3-7), with
 *   no C1 control and no noncharacter U+xxFFFE/U+xxFFFF;
 * - the name survives the S3 store's listing: in a ListBucketResult as
 *   radosgw writes it, s3_xml_parse_list gives back the very key
 *   exports/NAME/nbds3.meta and the prefix exports/NAME/.
 * And for every name refused that the decoder accepts and that breaks no
 * byte rule, it says why the refusal is right (a C1 control or a
 * noncharacter), so that the rule never refuses more than it says.
 */

#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "s3-xml.h"
#include "store.h"

/* The code points of S, well-formed UTF-8: true if one is a C1 control
 * (U+0080..U+009F) or a noncharacter ending in FFFE or FFFF.
 */
static bool
has_c1_or_nonchar (const char *str)
{
  const unsigned char *s = (const unsigned char *) str;

  while (*s) {
    uint32_t cp;
    size_t n;

    if (*s < 0x80) { cp = *s; n = 1; }
    else if (*s < 0xe0) { cp = *s & 0x1f; n = 2; }
    else if (*s < 0xf0) { cp = *s & 0x0f; n = 3; }
    else { cp = *s & 0x07; n = 4; }
    for (size_t k = 1; k < n; ++k)
      cp = cp << 6 | (s[k] & 0x3f);
    if ((cp >= 0x80 && cp <= 0x9f) || (cp & 0xfffe) == 0xfffe)
      return true;
    s += n;
  }
  return false;
}

static bool
bytes_ok (const char *name)
{
  size_t len = strlen (name);

  if (len == 0 || len > STORE_EXPORT_NAME_MAX || name[0] == '.')
    return false;
  for (const char *p = name; *p; ++p)
    if (*p == '/' || (unsigned char) *p < 0x20 || *p == 0x7f)
      return false;
  return true;
}

static void
check_listing (const char *name)
{
  struct fuzz_buf doc = { 0 }, key = { 0 }, prefix = { 0 };
  struct s3_list_result res;

  fuzz_buf_printf (&key, "exports/");
  fuzz_buf_add (&key, name, strlen (name));
  fuzz_buf_printf (&prefix, "%s/", key.p);
  fuzz_buf_printf (&key, "/nbds3.meta");

  fuzz_buf_printf (&doc, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                   "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/"
                   "2006-03-01/\"><Name>nbds3</Name><Prefix>exports/"
                   "</Prefix><KeyCount>2</KeyCount><Delimiter>/</Delimiter>"
                   "<IsTruncated>false</IsTruncated><Contents><Key>");
  fuzz_buf_xml_text (&doc, key.p);
  fuzz_buf_printf (&doc, "</Key><Size>54</Size><ETag>&quot;"
                   "0123456789abcdef0123456789abcdef&quot;</ETag>"
                   "</Contents><CommonPrefixes><Prefix>");
  fuzz_buf_xml_text (&doc, prefix.p);
  fuzz_buf_printf (&doc, "</Prefix></CommonPrefixes></ListBucketResult>");

  FUZZ_CHECK (s3_xml_parse_list (doc.p, doc.len, &res) == 0);
  FUZZ_CHECK (res.nr_objects == 1 && res.nr_prefixes == 1);
  FUZZ_CHECK (strcmp (res.objects[0].key, key.p) == 0);
  FUZZ_CHECK (strcmp (res.prefixes[0], prefix.p) == 0);
  s3_xml_list_free (&res);
  fuzz_buf_free (&doc);
  fuzz_buf_free (&key);
  fuzz_buf_free (&prefix);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *name = fuzz_strndup (data, size);
  bool utf8 = fuzz_utf8_valid (name, strlen (name));

  if (store_export_name_valid (name)) {
    FUZZ_CHECK (bytes_ok (name));
    FUZZ_CHECK (utf8);
    FUZZ_CHECK (!has_c1_or_nonchar (name));
    check_listing (name);
  }
  else if (bytes_ok (name) && utf8)
    FUZZ_CHECK (has_c1_or_nonchar (name));
  free (name);
  return 0;
}
