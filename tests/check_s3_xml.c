/* SPDX-License-Identifier: MIT
 *
 * Unit tests of s3-xml.c: S3 Error bodies as AWS and radosgw send them
 * (their words are s3-error.c's, tested in check_s3.c), ListObjectsV2
 * pages (namespaced or not, entities, common prefixes, continuation, 1000
 * keys), and hostile or broken input: every truncation of a valid
 * document, HTML, DOCTYPEs with external entities, entity bombs, invalid
 * UTF-8.  Each buffer handed to the parser is an exact-size heap copy, so
 * an over-read shows under valgrind or ASan.
 */

#include <config.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "s3-xml.h"
#include "check_suites.h"
#include "nbdkit-stubs.h"

#define S3_NS "http://s3.amazonaws.com/doc/2006-03-01/"

/* An exact-size heap copy of the first N bytes of S (no NUL). */
static char *
dup_n (const char *s, size_t n)
{
  char *p = malloc (n ? n : 1);

  ck_assert_ptr_nonnull (p);
  memcpy (p, s, n);
  return p;
}

static int
parse_error_n (const char *s, size_t n, struct s3_error *err)
{
  char *p = dup_n (s, n);
  int r = s3_xml_parse_error (p, n, err);

  free (p);
  return r;
}

static int
parse_error (const char *s, struct s3_error *err)
{
  return parse_error_n (s, strlen (s), err);
}

static int
parse_list_n (const char *s, size_t n, struct s3_list_result *res)
{
  char *p = dup_n (s, n);
  int r = s3_xml_parse_list (p, n, res);

  free (p);
  return r;
}

static int
parse_list (const char *s, struct s3_list_result *res)
{
  return parse_list_n (s, strlen (s), res);
}

static void
assert_error_cleared (const struct s3_error *err)
{
  ck_assert_str_eq (err->code, "");
  ck_assert_str_eq (err->message, "");
  ck_assert_str_eq (err->request_id, "");
}

static void
assert_list_empty (const struct s3_list_result *res)
{
  ck_assert_ptr_null (res->objects);
  ck_assert_uint_eq (res->nr_objects, 0);
  ck_assert_ptr_null (res->prefixes);
  ck_assert_uint_eq (res->nr_prefixes, 0);
  ck_assert_ptr_null (res->next_token);
  ck_assert (!res->is_truncated);
}

/* Fill with garbage, to see that a failed parse clears it. */
static void
poison_error (struct s3_error *err)
{
  memset (err->code, 'x', sizeof err->code - 1);
  err->code[sizeof err->code - 1] = '\0';
  memset (err->message, 'x', sizeof err->message - 1);
  err->message[sizeof err->message - 1] = '\0';
  memset (err->request_id, 'x', sizeof err->request_id - 1);
  err->request_id[sizeof err->request_id - 1] = '\0';
}

static void
setup (void)
{
  s3_xml_init ();
  s3_xml_init ();               /* idempotent */
  stub_reset_errors ();
}

/* ---- Error bodies ---- */

static const char aws_no_such_key[] =
  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
  "<Error><Code>NoSuchKey</Code>"
  "<Message>The specified key does not exist.</Message>"
  "<Key>exports/x/page-00000001.bin</Key>"
  "<RequestId>4442587FB7D0A2F9</RequestId>"
  "<HostId>eftixk72aD6Ap51TnqcoF8eFidJG9Z/2mkiDFu8yU9AS1ed4OpIszj7UDNEHGran"
  "</HostId></Error>";

static const char radosgw_no_such_bucket[] =
  "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchBucket</Code>"
  "<BucketName>b</BucketName>"
  "<RequestId>tx00000a1b2c3d4e5f60718-0065a1b2c3-1234-default</RequestId>"
  "<HostId>1234-default-default</HostId></Error>";

START_TEST (test_error_aws)
{
  struct s3_error err;

  poison_error (&err);
  ck_assert_int_eq (parse_error (aws_no_such_key, &err), 0);
  ck_assert_str_eq (err.code, "NoSuchKey");
  ck_assert_str_eq (err.message, "The specified key does not exist.");
  ck_assert_str_eq (err.request_id, "4442587FB7D0A2F9");
}
END_TEST

START_TEST (test_error_radosgw)
{
  struct s3_error err;

  poison_error (&err);
  ck_assert_int_eq (parse_error (radosgw_no_such_bucket, &err), 0);
  ck_assert_str_eq (err.code, "NoSuchBucket");
  ck_assert_str_eq (err.message, "");
  ck_assert_str_eq (err.request_id,
                    "tx00000a1b2c3d4e5f60718-0065a1b2c3-1234-default");

  /* An explicitly empty Message, as some radosgw versions send. */
  ck_assert_int_eq (parse_error ("<Error><Code>AccessDenied</Code>"
                                 "<Message></Message><Message/>"
                                 "<RequestId/></Error>", &err), 0);
  ck_assert_str_eq (err.code, "AccessDenied");
  ck_assert_str_eq (err.message, "");
  ck_assert_str_eq (err.request_id, "");
}
END_TEST

START_TEST (test_error_namespace_and_layout)
{
  struct s3_error err;

  /* Namespaced root, pretty-printed, entities and a CDATA section. */
  ck_assert_int_eq (parse_error (
    "<?xml version=\"1.0\"?>\n"
    "<Error xmlns=\"" S3_NS "\">\n"
    "  <Code>\n    SignatureDoesNotMatch\n  </Code>\n"
    "  <Message>a &amp; b\n  &lt;c&gt; <![CDATA[<d>]]></Message>\n"
    "  <RequestId> r1 </RequestId>\n"
    "</Error>\n", &err), 0);
  ck_assert_str_eq (err.code, "SignatureDoesNotMatch");
  /* One line: the newline became a space. */
  ck_assert_str_eq (err.message, "a & b   <c> <d>");
  ck_assert_str_eq (err.request_id, "r1");

  /* A prefixed namespace is matched by local name too. */
  ck_assert_int_eq (parse_error (
    "<s3:Error xmlns:s3=\"" S3_NS "\"><s3:Code>SlowDown</s3:Code>"
    "</s3:Error>", &err), 0);
  ck_assert_str_eq (err.code, "SlowDown");
}
END_TEST

START_TEST (test_error_bad)
{
  static const char *const bad[] = {
    "",
    " ",
    "\n",
    "<Error><Code>NoSuchKey</Code><Message>The specified",
    "<Error><Code>NoSuchKey</Code>",
    "<Error><Code>NoSuchKey</Code></Error><Error>",
    "<Error><Code>NoSuchKey</Code></Error>trailing",
    "<Error><Code>NoSuchKey</Cod></Error>",
    "<Error></Error>",
    "<Error/>",
    "<Error><Code></Code><Message>x</Message></Error>",
    "<Error><Code>  </Code></Error>",
    "<Error><Message>no code</Message></Error>",
    "<ListBucketResult><Name>b</Name></ListBucketResult>",
    "<Code>NoSuchKey</Code>",
    "<html><head><title>502 Bad Gateway</title></head><body>"
    "<center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center>"
    "</body></html>",
    "<!DOCTYPE html>\n<html><body><p>Proxy error<br></p></body></html>",
    "<HTML><BODY>Access denied by proxy</BODY></HTML>",
    "Service Unavailable",
    "{\"Code\":\"NoSuchKey\"}",
    "<?xml version=\"1.0\"?>",
    "<?xml version=\"1.0\"?><!DOCTYPE Error [<!ENTITY x \"NoSuchKey\">]>"
    "<Error><Code>&x;</Code></Error>",
    "<Error><Code>\xff\xfe</Code></Error>",
  };
  struct s3_error err;

  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
    poison_error (&err);
    ck_assert_msg (parse_error (bad[i], &err) == -1, "case %zu accepted", i);
    assert_error_cleared (&err);
  }
  /* A NUL byte inside the document. */
  poison_error (&err);
  ck_assert_int_eq (parse_error_n ("<Error><Code>A\0B</Code></Error>", 31,
                                   &err), -1);
  assert_error_cleared (&err);
  /* The error parser reports nothing itself. */
  ck_assert_uint_eq (stub_error_count (), 0);
}
END_TEST

START_TEST (test_error_truncations)
{
  const char *docs[] = { aws_no_such_key, radosgw_no_such_bucket };
  struct s3_error err;

  for (size_t d = 0; d < 2; ++d) {
    size_t len = strlen (docs[d]);

    for (size_t n = 0; n < len; ++n) {
      poison_error (&err);
      ck_assert_msg (parse_error_n (docs[d], n, &err) == -1,
                     "doc %zu prefix %zu accepted", d, n);
      assert_error_cleared (&err);
    }
    ck_assert_int_eq (parse_error_n (docs[d], len, &err), 0);
  }
}
END_TEST

START_TEST (test_error_long_fields)
{
  /* 2000 bytes of "é" (2 bytes each) and a long code: cut safely. */
  size_t n = 1000;
  char *doc = malloc (2 * n + 1024);
  char *p = doc;
  struct s3_error err;

  ck_assert_ptr_nonnull (doc);
  p += sprintf (p, "<Error><Code>");
  for (size_t i = 0; i < 100; ++i)
    *p++ = 'C';
  p += sprintf (p, "</Code><Message>x");    /* odd start: cut mid-char */
  for (size_t i = 0; i < n; ++i) {
    *p++ = '\xc3';
    *p++ = '\xa9';
  }
  p += sprintf (p, "</Message><RequestId>");
  for (size_t i = 0; i < 300; ++i)
    *p++ = 'r';
  p += sprintf (p, "</RequestId></Error>");

  ck_assert_int_eq (parse_error_n (doc, p - doc, &err), 0);
  ck_assert_uint_eq (strlen (err.code), S3_ERROR_CODE_MAX - 1);
  ck_assert_uint_eq (strlen (err.request_id), S3_ERROR_REQUEST_ID_MAX - 1);
  /* 'x' + whole é's only: S3_ERROR_MESSAGE_MAX - 1 is odd-sized room. */
  ck_assert_uint_le (strlen (err.message), S3_ERROR_MESSAGE_MAX - 1);
  ck_assert_uint_ge (strlen (err.message), S3_ERROR_MESSAGE_MAX - 2);
  ck_assert_uint_eq (strlen (err.message) % 2, 1);
  ck_assert_int_eq ((unsigned char) err.message[strlen (err.message) - 1],
                    0xa9);
  free (doc);
}
END_TEST

/* Each field is trimmed after control characters became spaces, and
 * after a cut, so that it never starts or ends with white space.
 * (Found by fuzz-xml-error: a DEL at the end of a Message, or a cut just
 * after a space, left a trailing space.)
 */
START_TEST (test_error_trimmed_fields)
{
  static const char doc[] =
    "<Error><Code>&#127;SlowDown&#9;&#127;</Code>"
    "<Message>Please reduce your request rate.&#127;</Message>"
    "<RequestId>" "0123456789012345678901234567890123456789"
    "0123456789012345678901234567890123456789"
    "0123456789012345678901234567890123456789012345 tail"
    "</RequestId></Error>";
  struct s3_error err;

  ck_assert_int_eq (parse_error_n (doc, sizeof doc - 1, &err), 0);
  ck_assert_str_eq (err.code, "SlowDown");
  ck_assert_str_eq (err.message, "Please reduce your request rate.");
  /* Cut at S3_ERROR_REQUEST_ID_MAX - 1 = 127 bytes, just after the
   * space: 126 digits are left.
   */
  ck_assert_uint_eq (strlen (err.request_id), 126);
  ck_assert_int_eq (err.request_id[125], '5');
}
END_TEST

/* ---- ListBucketResult ---- */

static const char list_page[] =
  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
  "<ListBucketResult xmlns=\"" S3_NS "\">"
  "<Name>bucket</Name><Prefix>exports/x/</Prefix><KeyCount>3</KeyCount>"
  "<MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>"
  "<Contents><Key>exports/x/nbds3.meta</Key>"
  "<LastModified>2024-01-01T00:00:00.000Z</LastModified>"
  "<ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag>"
  "<Size>62</Size><StorageClass>STANDARD</StorageClass></Contents>"
  "<Contents><Key>exports/x/page-00000000.bin</Key>"
  "<Size>4194304</Size></Contents>"
  "<Contents><Key>exports/x/page-0000000a.bin</Key>"
  "<ETag> \"0123456789abcdef0123456789abcdef\"\n</ETag>"
  "<Size>18446744073709551615</Size></Contents>"
  "</ListBucketResult>\n";

START_TEST (test_list_namespace)
{
  struct s3_list_result res;

  ck_assert_int_eq (parse_list (list_page, &res), 0);
  ck_assert (!res.is_truncated);
  ck_assert_ptr_null (res.next_token);
  ck_assert_int_eq (res.key_count, 3);
  ck_assert_uint_eq (res.nr_objects, 3);
  ck_assert_uint_eq (res.nr_prefixes, 0);
  ck_assert_str_eq (res.objects[0].key, "exports/x/nbds3.meta");
  ck_assert_uint_eq (res.objects[0].size, 62);
  ck_assert_str_eq (res.objects[1].key, "exports/x/page-00000000.bin");
  ck_assert_uint_eq (res.objects[1].size, 4194304);
  ck_assert_str_eq (res.objects[2].key, "exports/x/page-0000000a.bin");
  ck_assert_uint_eq (res.objects[2].size, UINT64_MAX);
  /* ETags as sent (quotes kept, entities decoded, white space trimmed),
   * "" when absent.
   */
  ck_assert_str_eq (res.objects[0].etag,
                    "\"d41d8cd98f00b204e9800998ecf8427e\"");
  ck_assert_str_eq (res.objects[1].etag, "");
  ck_assert_str_eq (res.objects[2].etag,
                    "\"0123456789abcdef0123456789abcdef\"");
  s3_xml_list_free (&res);
  assert_list_empty (&res);
  s3_xml_list_free (&res);      /* twice is harmless */
  s3_xml_list_free (NULL);
  ck_assert_uint_eq (stub_error_count (), 0);
}
END_TEST

START_TEST (test_list_entities_utf8)
{
  struct s3_list_result res;

  /* No namespace; entities, character references, UTF-8, spaces. */
  ck_assert_int_eq (parse_list (
    "<ListBucketResult>"
    "<Contents><Key>exports/a&amp;b/page-00000001.bin</Key>"
    "<Size> 7 </Size></Contents>"
    "<Contents><Key>exports/&lt;&gt;&quot;&apos;/x</Key><Size>0</Size>"
    "</Contents>"
    "<Contents><Key>exports/caf\xc3\xa9 &#x263A;&#65;/nbds3.meta</Key>"
    "<Size>1</Size></Contents>"
    "<Contents><Key> two  spaces </Key><Size>2</Size></Contents>"
    "<IsTruncated>false</IsTruncated>"
    "</ListBucketResult>", &res), 0);
  ck_assert_int_eq (res.key_count, -1);       /* not sent */
  ck_assert_uint_eq (res.nr_objects, 4);
  ck_assert_str_eq (res.objects[0].key, "exports/a&b/page-00000001.bin");
  ck_assert_uint_eq (res.objects[0].size, 7);
  ck_assert_str_eq (res.objects[1].key, "exports/<>\"'/x");
  ck_assert_str_eq (res.objects[2].key,
                    "exports/caf\xc3\xa9 \xe2\x98\xba" "A/nbds3.meta");
  ck_assert_str_eq (res.objects[3].key, " two  spaces ");    /* not trimmed */
  s3_xml_list_free (&res);

  /* Another declared encoding is converted to UTF-8. */
  ck_assert_int_eq (parse_list (
    "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>"
    "<ListBucketResult><Contents><Key>caf\xe9</Key><Size>1</Size>"
    "</Contents></ListBucketResult>", &res), 0);
  ck_assert_uint_eq (res.nr_objects, 1);
  ck_assert_str_eq (res.objects[0].key, "caf\xc3\xa9");
  s3_xml_list_free (&res);
}
END_TEST

START_TEST (test_list_prefixes)
{
  struct s3_list_result res;

  ck_assert_int_eq (parse_list (
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult xmlns=\"" S3_NS "\">\n"
    "  <Name>bucket</Name>\n  <Prefix>exports/</Prefix>\n"
    "  <Delimiter>/</Delimiter>\n  <KeyCount>3</KeyCount>\n"
    "  <IsTruncated>false</IsTruncated>\n"
    "  <CommonPrefixes><Prefix>exports/default/</Prefix></CommonPrefixes>\n"
    "  <CommonPrefixes><Prefix>exports/disk&amp;one/</Prefix>"
    "</CommonPrefixes>\n"
    "  <CommonPrefixes>\n    <Prefix>exports/caf\xc3\xa9/</Prefix>\n"
    "  </CommonPrefixes>\n"
    "</ListBucketResult>\n", &res), 0);
  ck_assert_uint_eq (res.nr_objects, 0);
  ck_assert_ptr_null (res.objects);
  ck_assert_int_eq (res.key_count, 3);
  ck_assert_uint_eq (res.nr_prefixes, 3);
  ck_assert_str_eq (res.prefixes[0], "exports/default/");
  ck_assert_str_eq (res.prefixes[1], "exports/disk&one/");
  ck_assert_str_eq (res.prefixes[2], "exports/caf\xc3\xa9/");
  s3_xml_list_free (&res);
}
END_TEST

START_TEST (test_list_truncated)
{
  struct s3_list_result res;
  char *token;

  ck_assert_int_eq (parse_list (
    "<ListBucketResult xmlns=\"" S3_NS "\">"
    "<Name>bucket</Name><Prefix>exports/x/</Prefix>"
    "<ContinuationToken>previous</ContinuationToken>"
    "<KeyCount>1</KeyCount><MaxKeys>1</MaxKeys>"
    "<IsTruncated>true</IsTruncated>"
    "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="
    "</NextContinuationToken>"
    "<Contents><Key>exports/x/page-00000000.bin</Key><Size>4096</Size>"
    "</Contents></ListBucketResult>", &res), 0);
  ck_assert (res.is_truncated);
  ck_assert_int_eq (res.key_count, 1);
  ck_assert_uint_eq (res.nr_objects, 1);
  ck_assert_str_eq (res.next_token,
                    "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
  /* The caller may take the token. */
  token = res.next_token;
  res.next_token = NULL;
  s3_xml_list_free (&res);
  ck_assert_str_eq (token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
  free (token);

  /* A last page's stray token is not offered. */
  ck_assert_int_eq (parse_list (
    "<ListBucketResult><IsTruncated>false</IsTruncated>"
    "<NextContinuationToken>stale</NextContinuationToken>"
    "</ListBucketResult>", &res), 0);
  ck_assert (!res.is_truncated);
  ck_assert_ptr_null (res.next_token);
  s3_xml_list_free (&res);
}
END_TEST

START_TEST (test_list_empty)
{
  struct s3_list_result res;

  /* The bucket probe: max-keys=1 on an empty bucket. */
  ck_assert_int_eq (parse_list (
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
    "<ListBucketResult xmlns=\"" S3_NS "\"><Name>b</Name><Prefix></Prefix>"
    "<KeyCount>0</KeyCount><MaxKeys>1</MaxKeys>"
    "<IsTruncated>false</IsTruncated></ListBucketResult>", &res), 0);
  ck_assert_int_eq (res.key_count, 0);
  ck_assert_uint_eq (res.nr_objects, 0);
  ck_assert_uint_eq (res.nr_prefixes, 0);
  ck_assert (!res.is_truncated);
  s3_xml_list_free (&res);

  ck_assert_int_eq (parse_list ("<ListBucketResult/>", &res), 0);
  assert_list_empty (&res);
  ck_assert_int_eq (res.key_count, -1);
  s3_xml_list_free (&res);
  ck_assert_uint_eq (stub_error_count (), 0);
}
END_TEST

START_TEST (test_list_1000)
{
  const size_t n = 1000;
  size_t cap = 256 + n * 160, off = 0;
  char *doc = malloc (cap);
  struct s3_list_result res;

  ck_assert_ptr_nonnull (doc);
  off += snprintf (doc + off, cap - off,
                   "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                   "<ListBucketResult xmlns=\"" S3_NS "\">"
                   "<Name>b</Name><Prefix>exports/big/</Prefix>"
                   "<KeyCount>%zu</KeyCount><MaxKeys>1000</MaxKeys>"
                   "<IsTruncated>true</IsTruncated>"
                   "<NextContinuationToken>next-1000"
                   "</NextContinuationToken>", n);
  for (size_t i = 0; i < n; ++i)
    off += snprintf (doc + off, cap - off,
                     "<Contents><Key>exports/big/page-%08zx.bin</Key>"
                     "<LastModified>2024-01-01T00:00:00.000Z</LastModified>"
                     "<Size>%zu</Size></Contents>", i * 7, i * 4096);
  off += snprintf (doc + off, cap - off, "</ListBucketResult>");
  ck_assert_uint_lt (off, cap);

  ck_assert_int_eq (parse_list_n (doc, off, &res), 0);
  ck_assert_uint_eq (res.nr_objects, n);
  ck_assert_int_eq (res.key_count, (int64_t) n);
  ck_assert (res.is_truncated);
  ck_assert_str_eq (res.next_token, "next-1000");
  for (size_t i = 0; i < n; ++i) {
    char want[64];

    snprintf (want, sizeof want, "exports/big/page-%08zx.bin", i * 7);
    ck_assert_str_eq (res.objects[i].key, want);
    ck_assert_uint_eq (res.objects[i].size, i * 4096);
  }
  s3_xml_list_free (&res);
  free (doc);
}
END_TEST

/* Each must fail with a message; SUBSTR (if any) must be in it. */
static const struct {
  const char *doc, *substr;
} bad_lists[] = {
  { "", "empty" },
  { "<ListBucketResult><Contents><Key>a</Key>", NULL },
  { "<ListBucketResult><Contents><Key>a</Key><Size>1</Size></Contents>"
    "</ListBucketResult>junk", NULL },
  { "<html><head><title>403 Forbidden</title></head><body>"
    "<h1>Forbidden</h1></body></html>", "<html>" },
  { "<!DOCTYPE html><html><body>proxy login</body></html>", "DOCTYPE" },
  { "Bad Gateway", NULL },
  { "<Error><Code>AccessDenied</Code><Message>Access Denied</Message>"
    "</Error>", "AccessDenied: Access Denied" },
  { "<Error><Code>NoSuchBucket</Code></Error>",
    "NoSuchBucket: the bucket does not exist" },
  { "<Error><Code>Weird</Code></Error>", "Weird: no message" },
  { "<Error/>", "<Error>" },
  { "<ListAllMyBucketsResult/>", "<ListAllMyBucketsResult>" },
  { "<ListBucketResult><Contents><Size>1</Size></Contents>"
    "</ListBucketResult>", "without <Key>" },
  { "<ListBucketResult><Contents><Key>k</Key></Contents>"
    "</ListBucketResult>", "without <Size>" },
  { "<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents>"
    "</ListBucketResult>", "<Size>" },
  { "<ListBucketResult><Contents><Key>k</Key><Size>12x</Size></Contents>"
    "</ListBucketResult>", "<Size>" },
  { "<ListBucketResult><Contents><Key>k</Key>"
    "<Size>18446744073709551616</Size></Contents></ListBucketResult>",
    "<Size>" },
  { "<ListBucketResult><KeyCount>many</KeyCount></ListBucketResult>",
    "<KeyCount>" },
  { "<ListBucketResult><IsTruncated>true</IsTruncated>"
    "</ListBucketResult>", "NextContinuationToken" },
  { "<ListBucketResult><IsTruncated>true</IsTruncated>"
    "<NextContinuationToken></NextContinuationToken></ListBucketResult>",
    "NextContinuationToken" },
  { "<ListBucketResult><IsTruncated>maybe</IsTruncated>"
    "</ListBucketResult>", "<IsTruncated>" },
  /* XXE: a file and the network must never be read. */
  { "<?xml version=\"1.0\"?>"
    "<!DOCTYPE ListBucketResult [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>"
    "<ListBucketResult><Contents><Key>&xxe;</Key><Size>1</Size></Contents>"
    "</ListBucketResult>", "DOCTYPE" },
  { "<?xml version=\"1.0\"?>"
    "<!DOCTYPE ListBucketResult SYSTEM \"http://127.0.0.1:1/x.dtd\">"
    "<ListBucketResult/>", "DOCTYPE" },
  /* Entity expansion bomb. */
  { "<?xml version=\"1.0\"?><!DOCTYPE l ["
    "<!ENTITY a \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\">"
    "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">"
    "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">"
    "<!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">"
    "<!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">"
    "<!ENTITY f \"&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;\">"
    "<!ENTITY g \"&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;\">"
    "<!ENTITY h \"&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;\">]>"
    "<ListBucketResult><Contents><Key>&h;</Key><Size>1</Size></Contents>"
    "</ListBucketResult>", "DOCTYPE" },
  /* An undeclared entity. */
  { "<ListBucketResult><Contents><Key>&nbsp;</Key><Size>1</Size>"
    "</Contents></ListBucketResult>", NULL },
  /* Invalid UTF-8. */
  { "<ListBucketResult><Contents><Key>\xc3\x28</Key><Size>1</Size>"
    "</Contents></ListBucketResult>", NULL },
  /* An invalid character reference. */
  { "<ListBucketResult><Contents><Key>&#0;</Key><Size>1</Size>"
    "</Contents></ListBucketResult>", NULL },
};

START_TEST (test_list_malformed)
{
  struct s3_list_result res;
  char msg[1024];

  for (size_t i = 0; i < sizeof bad_lists / sizeof bad_lists[0]; ++i) {
    memset (&res, 0xa5, sizeof res);          /* garbage in */
    stub_reset_errors ();
    ck_assert_msg (parse_list (bad_lists[i].doc, &res) == -1,
                   "case %zu accepted", i);
    assert_list_empty (&res);
    ck_assert_uint_eq (stub_error_count (), 1);
    stub_last_error (msg, sizeof msg);
    ck_assert_msg (strncmp (msg, "malformed ListBucketResult from S3: ",
                            36) == 0, "case %zu: %s", i, msg);
    if (bad_lists[i].substr)
      ck_assert_msg (strstr (msg, bad_lists[i].substr) != NULL,
                     "case %zu: \"%s\" lacks \"%s\"", i, msg,
                     bad_lists[i].substr);
    /* No line break in the message. */
    ck_assert_msg (strchr (msg, '\n') == NULL, "case %zu: %s", i, msg);
    s3_xml_list_free (&res);
  }

  /* A NUL byte inside the document. */
  ck_assert_int_eq (parse_list_n ("<ListBucketResult>\0</ListBucketResult>",
                                  38, &res), -1);
  assert_list_empty (&res);
}
END_TEST

START_TEST (test_list_truncations)
{
  const char *end_tag = "</ListBucketResult>";
  size_t len = strlen (list_page);
  size_t complete = strstr (list_page, end_tag) - list_page + strlen (end_tag);
  struct s3_list_result res;

  for (size_t n = 0; n <= len; ++n) {
    int r;

    stub_reset_errors ();
    r = parse_list_n (list_page, n, &res);
    if (n < complete) {
      ck_assert_msg (r == -1, "prefix %zu accepted", n);
      assert_list_empty (&res);
      ck_assert_uint_eq (stub_error_count (), 1);
    }
    else {
      ck_assert_msg (r == 0, "full document (%zu) refused", n);
      ck_assert_uint_eq (res.nr_objects, 3);
    }
    s3_xml_list_free (&res);
  }
}
END_TEST

/* ---- libxml2 stays quiet, and works from many threads ---- */

START_TEST (test_no_stderr_output)
{
  FILE *tmp = tmpfile ();
  int saved;
  struct s3_error err;
  struct s3_list_result res;
  long size;

  ck_assert_ptr_nonnull (tmp);
  fflush (stderr);
  saved = dup (STDERR_FILENO);
  ck_assert_int_ge (saved, 0);
  ck_assert_int_ge (dup2 (fileno (tmp), STDERR_FILENO), 0);

  for (size_t i = 0; i < sizeof bad_lists / sizeof bad_lists[0]; ++i) {
    parse_error (bad_lists[i].doc, &err);
    if (parse_list (bad_lists[i].doc, &res) == 0)
      s3_xml_list_free (&res);
  }

  fflush (stderr);
  dup2 (saved, STDERR_FILENO);
  close (saved);
  fseek (tmp, 0, SEEK_END);
  size = ftell (tmp);
  fclose (tmp);
  ck_assert_int_eq (size, 0);
}
END_TEST

static void *
parse_many (void *arg)
{
  for (int i = 0; i < 200; ++i) {
    struct s3_list_result res;
    struct s3_error err;

    if (s3_xml_parse_list (list_page, strlen (list_page), &res) == -1 ||
        res.nr_objects != 3 ||
        strcmp (res.objects[2].key, "exports/x/page-0000000a.bin") != 0)
      return (void *) "list";
    s3_xml_list_free (&res);
    if (s3_xml_parse_error (radosgw_no_such_bucket,
                            strlen (radosgw_no_such_bucket), &err) == -1 ||
        strcmp (err.code, "NoSuchBucket") != 0)
      return (void *) "error";
    if (s3_xml_parse_error ("<html>", 6, &err) != -1)
      return (void *) "html";
  }
  return NULL;
}

START_TEST (test_threads)
{
  pthread_t t[4];

  for (size_t i = 0; i < 4; ++i)
    ck_assert_int_eq (pthread_create (&t[i], NULL, parse_many, NULL), 0);
  for (size_t i = 0; i < 4; ++i) {
    void *r;

    ck_assert_int_eq (pthread_join (t[i], &r), 0);
    ck_assert_msg (r == NULL, "thread %zu failed: %s", i, (char *) r);
  }
}
END_TEST

START_TEST (test_cleanup_reinit)
{
  struct s3_error err;

  s3_xml_cleanup ();
  s3_xml_cleanup ();            /* idempotent */
  s3_xml_init ();
  ck_assert_int_eq (parse_error (aws_no_such_key, &err), 0);
  ck_assert_str_eq (err.code, "NoSuchKey");
}
END_TEST

/* DeleteObjects: the request body escapes keys and round-trips through
 * the parser; a DeleteResult's errors other than NoSuchKey count, and a
 * body that is not a DeleteResult is refused.
 */
START_TEST (test_delete)
{
  const char *const keys[] = { "exports/a&b/page-00000000.bin", "k<2>" };
  static const char result[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<Deleted><Key>x</Key></Deleted>"
    "<Error><Key>gone</Key><Code>NoSuchKey</Code></Error>"
    "<Error><Key>k&lt;2&gt;</Key><Code>AccessDenied</Code>"
    "<Message>Access Denied</Message></Error>"
    "<Error><Key>k3</Key><Code>InternalError</Code></Error>"
    "</DeleteResult>";
  struct s3_list_result list;
  struct s3_error err;
  char key[64];
  size_t len, nfailed;
  char *body = s3_xml_delete_body (keys, 2, &len);

  ck_assert_ptr_nonnull (body);
  ck_assert_uint_eq (len, strlen (body));
  ck_assert (strstr (body, "<Quiet>true</Quiet>") != NULL);
  ck_assert (strstr (body, "<Key>exports/a&amp;b/page-00000000.bin</Key>"));
  ck_assert (strstr (body, "<Key>k&lt;2&gt;</Key>"));
  /* Well-formed XML: but not a listing. */
  ck_assert_int_eq (s3_xml_parse_list (body, len, &list), -1);
  free (body);

  ck_assert_int_eq (s3_xml_parse_delete (result, strlen (result), &nfailed,
                                         key, sizeof key, &err), 0);
  ck_assert_uint_eq (nfailed, 2);
  ck_assert_str_eq (key, "k<2>");
  ck_assert_str_eq (err.code, "AccessDenied");
  ck_assert_str_eq (err.message, "Access Denied");

  static const char none[] = "<DeleteResult><Deleted><Key>x</Key>"
    "</Deleted></DeleteResult>";
  ck_assert_int_eq (s3_xml_parse_delete (none, strlen (none), &nfailed,
                                         key, sizeof key, &err), 0);
  ck_assert_uint_eq (nfailed, 0);

  static const char other[] = "<Error><Code>NotImplemented</Code></Error>";
  char msg[512];

  ck_assert_int_eq (s3_xml_parse_delete (other, strlen (other), &nfailed,
                                         key, sizeof key, &err), -1);
  stub_last_error (msg, sizeof msg);
  ck_assert_msg (strstr (msg, "malformed DeleteResult from S3: the root "
                         "element is Error") != NULL, "%s", msg);
  static const char nokey[] = "<DeleteResult><Error><Code>X</Code>"
    "</Error></DeleteResult>";
  ck_assert_int_eq (s3_xml_parse_delete (nokey, strlen (nokey), &nfailed,
                                         key, sizeof key, &err), -1);
  ck_assert_int_eq (s3_xml_parse_delete ("<Delete", 7, &nfailed, key,
                                         sizeof key, &err), -1);
}
END_TEST

Suite *
s3_xml_suite (void)
{
  Suite *s = suite_create ("s3_xml");
  TCase *errors = tcase_create ("errors");
  TCase *lists = tcase_create ("lists");
  TCase *misc = tcase_create ("misc");

  tcase_add_checked_fixture (errors, setup, NULL);
  tcase_add_test (errors, test_error_aws);
  tcase_add_test (errors, test_error_radosgw);
  tcase_add_test (errors, test_error_namespace_and_layout);
  tcase_add_test (errors, test_error_bad);
  tcase_add_test (errors, test_error_truncations);
  tcase_add_test (errors, test_error_long_fields);
  tcase_add_test (errors, test_error_trimmed_fields);
  suite_add_tcase (s, errors);

  tcase_add_checked_fixture (lists, setup, NULL);
  tcase_add_test (lists, test_list_namespace);
  tcase_add_test (lists, test_list_entities_utf8);
  tcase_add_test (lists, test_list_prefixes);
  tcase_add_test (lists, test_list_truncated);
  tcase_add_test (lists, test_list_empty);
  tcase_add_test (lists, test_list_1000);
  tcase_add_test (lists, test_list_malformed);
  tcase_add_test (lists, test_list_truncations);
  tcase_add_test (lists, test_delete);
  suite_add_tcase (s, lists);

  tcase_add_checked_fixture (misc, setup, NULL);
  tcase_add_test (misc, test_no_stderr_output);
  tcase_add_test (misc, test_threads);
  tcase_add_test (misc, test_cleanup_reinit);
  suite_add_tcase (s, misc);
  return s;
}
