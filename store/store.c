/* SPDX-License-Identifier: MIT
 *
 * What both page stores share: the export name rule, the text format of
 * the nbds3.meta record, of a page's checksum and the page and tombstone
 * naming scheme.  Pure functions, no I/O, so both stores and the unit
 * tests agree on them by construction.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-plugin.h>

#include "store.h"
#include "text.h"

bool
store_export_name_valid (const char *name)
{
  size_t len = strlen (name);

  if (len == 0 || len > STORE_EXPORT_NAME_MAX || name[0] == '.')
    return false;
  for (size_t i = 0; i < len; ++i) {
    unsigned char c = name[i];
    if (c == '/' || c < 0x20 || c == 0x7f)
      return false;
  }
  /* Reject invalid UTF-8 (including overlong forms and surrogates). */
  for (size_t i = 0; i < len;) {
    unsigned char c = name[i];
    size_t n;
    uint32_t cp;

    if (c < 0x80) { i++; continue; }
    else if ((c & 0xe0) == 0xc0) { n = 1; cp = c & 0x1f; }
    else if ((c & 0xf0) == 0xe0) { n = 2; cp = c & 0x0f; }
    else if ((c & 0xf8) == 0xf0) { n = 3; cp = c & 0x07; }
    else return false;
    if (i + n >= len)
      return false;
    for (size_t k = 1; k <= n; ++k) {
      unsigned char cc = name[i + k];
      if ((cc & 0xc0) != 0x80)
        return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
        (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp < 0xa0) ||
        (cp & 0xfffe) == 0xfffe)    /* noncharacters: not in S3 XML */
      return false;
    i += n + 1;
  }
  return true;
}

/* Does META have a field that needs format 3? */
static bool
meta_needs_v3 (const struct store_meta *meta)
{
  return meta->base[0] || meta->read_only || meta->snapshot_of[0];
}

size_t
store_meta_format (const struct store_meta *meta, char *buf)
{
  uint32_t version = meta->version;
  int n;

  if (meta_needs_v3 (meta) && version < 3)
    version = 3;
  n = snprintf (buf, STORE_META_MAX,
                "# nbds3 export metadata: do not edit\n"
                "version=%" PRIu32 "\n"
                "size=%" PRIu64 "\n"
                "page-size=%" PRIu32 "\n"
                "%s%s%s%s%s%s%s",
                version, meta->size, meta->page_size,
                meta->checksums ? "checksums=required\n" : "",
                meta->base[0] ? "base=" : "", meta->base,
                meta->base[0] ? "\n" : "",
                meta->read_only ? "read-only=true\n" : "",
                meta->snapshot_of[0] ? "snapshot-of=" : "",
                meta->snapshot_of);
  if (meta->snapshot_of[0] && n < STORE_META_MAX - 1) {
    buf[n++] = '\n';
    buf[n] = '\0';
  }
  return (size_t) n;
}

/* Copy the export name VALUE into OUT (STORE_EXPORT_NAME_MAX + 1
 * bytes).  false if it is not a valid export name.
 */
static bool
meta_name (const char *value, char *out)
{
  if (!store_export_name_valid (value))
    return false;
  strcpy (out, value);
  return true;
}

int
store_meta_parse (const char *text, size_t len, struct store_meta *meta,
                  const char *where)
{
  char copy[STORE_META_MAX + 1];
  bool have_version = false, have_size = false, have_page_size = false;
  char *line, *save;

  if (len > STORE_META_MAX) {
    nbdkit_error ("%s: metadata is %zu bytes, more than %d: "
                  "this is not an nbds3 metadata file", where, len,
                  STORE_META_MAX);
    return -1;
  }
  memcpy (copy, text, len);
  copy[len] = '\0';
  meta->checksums = false;
  meta->base[0] = meta->snapshot_of[0] = '\0';
  meta->read_only = false;

  for (line = strtok_r (copy, "\n", &save); line;
       line = strtok_r (NULL, "\n", &save)) {
    char *eq = strchr (line, '=');
    uint64_t v;

    if (line[0] == '#' || line[0] == '\0')
      continue;
    if (eq == NULL)
      goto bad;
    *eq = '\0';
    if (strcmp (line, "checksums") == 0) {
      meta->checksums = strcmp (text_trim (eq + 1), "required") == 0;
      continue;
    }
    if (strcmp (line, "base") == 0) {
      if (!meta_name (eq + 1, meta->base))
        goto bad;
      continue;
    }
    if (strcmp (line, "snapshot-of") == 0) {
      if (!meta_name (eq + 1, meta->snapshot_of))
        goto bad;
      continue;
    }
    if (strcmp (line, "read-only") == 0) {
      if (strcmp (eq + 1, "true") != 0 && strcmp (eq + 1, "false") != 0)
        goto bad;
      meta->read_only = strcmp (eq + 1, "true") == 0;
      continue;
    }
    if (text_parse_u64 (eq + 1, &v) == -1)
      goto bad;
    if (strcmp (line, "version") == 0 && v <= UINT32_MAX) {
      meta->version = v;
      have_version = true;
    }
    else if (strcmp (line, "size") == 0) {
      meta->size = v;
      have_size = true;
    }
    else if (strcmp (line, "page-size") == 0 && v <= UINT32_MAX) {
      meta->page_size = v;
      have_page_size = true;
    }
    /* Unknown keys are ignored, so a newer minor format can add some. */
  }
  if (!have_version || !have_size || !have_page_size)
    goto bad;
  if (meta->version < 1 || meta->version > STORE_META_VERSION) {
    nbdkit_error ("%s: metadata format version %" PRIu32 " is not supported "
                  "by this nbds3 (it reads versions 1 to %d): upgrade nbds3",
                  where, meta->version, STORE_META_VERSION);
    return -1;
  }
  if (meta_needs_v3 (meta) && meta->version < 3) {
    nbdkit_error ("%s: metadata of format %" PRIu32 " has base=, "
                  "read-only= or snapshot-of=, which need format 3",
                  where, meta->version);
    return -1;
  }
  if (meta->page_size == 0 || (meta->page_size & (meta->page_size - 1))) {
    nbdkit_error ("%s: page-size %" PRIu32 " is not a power of two",
                  where, meta->page_size);
    return -1;
  }
  return 0;

 bad:
  nbdkit_error ("%s: metadata is damaged (it needs version=, size= and "
                "page-size= lines)", where);
  return -1;
}

void
store_checksum_format (const struct store_checksum *sum,
                       char text[STORE_CHECKSUM_TEXT_LEN + 1])
{
  snprintf (text, STORE_CHECKSUM_TEXT_LEN + 1, "%08" PRIx32, sum->crc32c);
}

bool
store_checksum_parse (const char *text, size_t len,
                      struct store_checksum *sum)
{
  uint32_t v = 0;

  if (len != STORE_CHECKSUM_TEXT_LEN)
    return false;
  for (size_t i = 0; i < len; ++i) {
    char c = text[i];

    if (c >= '0' && c <= '9')
      v = v << 4 | (c - '0');
    else if (c >= 'a' && c <= 'f')
      v = v << 4 | (c - 'a' + 10);
    else
      return false;
  }
  sum->present = true;
  sum->crc32c = v;
  return true;
}

/* One component of an object name: a valid export name, up to LEN
 * bytes of NAME.
 */
static bool
object_component_valid (const char *name, size_t len)
{
  char part[STORE_EXPORT_NAME_MAX + 1];

  if (len == 0 || len > STORE_EXPORT_NAME_MAX)
    return false;
  memcpy (part, name, len);
  part[len] = '\0';
  return store_export_name_valid (part);
}

bool
store_object_name_valid (const char *name)
{
  const char *slash = strchr (name, '/');

  if (slash == NULL)
    return object_component_valid (name, strlen (name));
  return object_component_valid (name, slash - name) &&
    object_component_valid (slash + 1, strlen (slash + 1));
}

/* Parse "page-%08x" followed by SUFFIX, all of NAME, into *PAGE. */
static bool
page_name_parse (const char *name, const char *suffix, uint32_t *page)
{
  uint32_t v = 0;

  if (strlen (name) != 13 + strlen (suffix) ||
      strncmp (name, "page-", 5) != 0 || strcmp (name + 13, suffix) != 0)
    return false;
  for (int i = 5; i < 13; ++i) {
    char c = name[i];
    if (c >= '0' && c <= '9') v = v * 16 + (c - '0');
    else if (c >= 'a' && c <= 'f') v = v * 16 + (c - 'a' + 10);
    else return false;
  }
  *page = v;
  return true;
}

bool
store_page_name_parse (const char *name, uint32_t *page)
{
  return page_name_parse (name, ".bin", page);
}

bool
store_tombstone_name_parse (const char *name, uint32_t *page)
{
  return page_name_parse (name, ".zero", page);
}
