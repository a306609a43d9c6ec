/* SPDX-License-Identifier: MIT
 *
 * Fuzz target: s3_creds_parse_json and s3_creds_parse_time
 * (s3/s3-creds-parse.c), the parsers of what credential_process prints
 * and what the container endpoint and the instance metadata service
 * answer: bytes from another program or the network that become the
 * credentials nbds3 signs with.
 *
 * It asserts:
 * - a refused document leaves the struct empty and a reason that is one
 *   line;
 * - an accepted one gives NUL-terminated strings (an escaped NUL is
 *   refused, so none is cut short);
 * - the round trip: the fields written back as a JSON object (escaped)
 *   parse to the same fields;
 * - an Expiration that parses as a time is stable: written back with
 *   strftime as "YYYY-MM-DDTHH:MM:SSZ" it parses to the same second.
 */

#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuzz.h"
#include "s3-creds-parse.h"

static void
json_string (struct fuzz_buf *b, const char *name, const char *s)
{
  if (s == NULL)
    return;
  fuzz_buf_printf (b, "%s\"%s\":\"", b->len > 1 ? "," : "", name);
  for (; *s; ++s) {
    unsigned char c = *s;

    if (c == '"' || c == '\\')
      fuzz_buf_printf (b, "\\%c", c);
    else if (c < 0x20)
      fuzz_buf_printf (b, "\\u%04x", c);
    else
      fuzz_buf_add (b, (const char *) &c, 1);
  }
  fuzz_buf_add (b, "\"", 1);
}

static void
same (const char *a, const char *b)
{
  FUZZ_CHECK ((a == NULL) == (b == NULL));
  FUZZ_CHECK (a == NULL || strcmp (a, b) == 0);
}

static void
check_time (const char *s)
{
  char buf[64];
  struct tm tm;
  time_t t, again;

  if (s == NULL || s3_creds_parse_time (s, &t) == -1)
    return;
  /* strftime's %Y has four digits only for these years. */
  if (gmtime_r (&t, &tm) == NULL || tm.tm_year + 1900 < 1000 ||
      tm.tm_year + 1900 > 9999)
    return;
  strftime (buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  FUZZ_CHECK (s3_creds_parse_time (buf, &again) == 0);
  FUZZ_CHECK (again == t);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const struct s3_creds_doc zero;
  struct s3_creds_doc doc, again;
  struct fuzz_buf b = { 0 };
  char why[128];
  char *text = fuzz_strndup (data, size);
  time_t t;

  if (s3_creds_parse_json ((const char *) data, size, &doc, why,
                           sizeof why) == -1) {
    FUZZ_CHECK (memcmp (&doc, &zero, sizeof doc) == 0);
    FUZZ_CHECK (strchr (why, '\n') == NULL && why[0] != '\0');
    s3_creds_parse_time (text, &t);     /* any bytes: no crash */
    free (text);
    return 0;
  }
  free (text);
  fuzz_buf_add (&b, "{", 1);
  json_string (&b, "AccessKeyId", doc.access_key_id);
  json_string (&b, "SecretAccessKey", doc.secret_access_key);
  json_string (&b, "SessionToken", doc.session_token);
  json_string (&b, "Token", doc.token);
  json_string (&b, "Expiration", doc.expiration);
  json_string (&b, "Code", doc.code);
  json_string (&b, "Message", doc.message);
  if (doc.has_version)
    fuzz_buf_printf (&b, "%s\"Version\":%lld", b.len > 1 ? "," : "",
                     (long long) doc.version);
  fuzz_buf_add (&b, "}", 1);
  FUZZ_CHECK (s3_creds_parse_json (b.p, b.len, &again, why,
                                   sizeof why) == 0);
  same (doc.access_key_id, again.access_key_id);
  same (doc.secret_access_key, again.secret_access_key);
  same (doc.session_token, again.session_token);
  same (doc.token, again.token);
  same (doc.expiration, again.expiration);
  same (doc.code, again.code);
  same (doc.message, again.message);
  FUZZ_CHECK (doc.has_version == again.has_version);
  FUZZ_CHECK (!doc.has_version || doc.version == again.version);
  check_time (doc.expiration);
  s3_creds_doc_free (&doc);
  s3_creds_doc_free (&again);
  fuzz_buf_free (&b);
  return 0;
}
