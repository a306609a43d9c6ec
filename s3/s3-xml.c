/* SPDX-License-Identifier: MIT
 *
 * The XML part of the S3 client: turns S3 Error bodies into struct
 * s3_error (s3-error.c has the words for them), ListObjectsV2 pages
 * into struct s3_list_result, and STS answers into struct
 * s3_sts_credentials (libxml2 keeps no wiped copy of their secrets: the
 * document is freed at once).  It owns all use of libxml2 in nbds3 and
 * nothing else: no curl, no I/O, no clock.
 *
 * Invariants:
 * - Every document goes through parse_document, which parses from memory
 *   with XML_PARSE_NONET, without XML_PARSE_NOENT / DTDLOAD / DTDATTR, and
 *   stops the parser at a DOCTYPE (S3 never sends one), so no external
 *   entity is ever loaded and no user-defined entity exists.  libxml2's
 *   own error output is off (NOERROR / NOWARNING, and a silent generic
 *   handler); its last error is read back from the parser context to
 *   build our messages.
 * - Elements are matched by local name, so S3's default namespace may be
 *   present or not.
 * - On failure no output is left half-filled: s3_error is cleared, a list
 *   result is freed and cleared.
 * - The parser context and document are per call, so the parse functions
 *   are reentrant once libxml2 is initialised (s3_xml_init).
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include <nbdkit-plugin.h>

#include "s3-error.h"
#include "s3-xml.h"
#include "text.h"

#define PARSE_OPTIONS \
  (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | \
   XML_PARSE_NOCDATA)

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static bool initialised;        /* guarded by init_lock */

/* libxml2 reports some errors outside any parser context through its
 * generic error function, which prints to stderr by default.  Silencing it
 * is process-wide: nbds3 is libxml2's only user in the nbdkit process.
 */
static void
silent_generic_error (void *ctx, const char *msg, ...)
{
}

void
s3_xml_init (void)
{
  pthread_mutex_lock (&init_lock);
  if (!initialised) {
    xmlInitParser ();
    /* For this thread and for threads created from now on. */
    xmlSetGenericErrorFunc (NULL, silent_generic_error);
    xmlThrDefSetGenericErrorFunc (NULL, silent_generic_error);
    initialised = true;
  }
  pthread_mutex_unlock (&init_lock);
}

void
s3_xml_cleanup (void)
{
  pthread_mutex_lock (&init_lock);
  if (initialised) {
    xmlCleanupParser ();
    initialised = false;
  }
  pthread_mutex_unlock (&init_lock);
}

/* White space or a control character: what copy_field trims. */
static bool
is_blank (char c)
{
  unsigned char u = c;

  return u <= 0x20 || u == 0x7f;
}

/* Copy SRC into DST (SIZE bytes) on one line: control characters
 * replaced by spaces, cut at a UTF-8 character boundary if too long, and
 * surrounding white space (and control characters) trimmed, after the
 * cut too.
 */
static void
copy_field (char *dst, size_t size, const char *src)
{
  size_t start = 0, end = strlen (src), n;

  while (start < end && is_blank (src[start]))
    start++;
  while (end > start && is_blank (src[end-1]))
    end--;
  n = end - start;
  if (n >= size) {
    n = size - 1;
    /* Do not split a multi-byte character. */
    while (n > 0 && ((unsigned char) src[start + n] & 0xc0) == 0x80)
      n--;
    while (n > 0 && is_blank (src[start + n - 1]))
      n--;
  }
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = src[start + i];
    dst[i] = c < 0x20 || c == 0x7f ? ' ' : (char) c;
  }
  dst[n] = '\0';
}

/* SAX hook: a DOCTYPE was found.  Record it and stop before its internal
 * subset (entity declarations) is parsed.
 */
static void
refuse_doctype (void *ctx, const xmlChar *name, const xmlChar *external_id,
                const xmlChar *system_id)
{
  xmlParserCtxtPtr ctxt = ctx;
  bool *seen = ctxt->_private;

  *seen = true;
  xmlStopParser (ctxt);
}

/* Parse BODY (LEN bytes) into a document.  On failure return NULL and put
 * the reason, one line, into WHY.
 */
static xmlDocPtr
parse_document (const char *body, size_t len, char *why, size_t why_len)
{
  xmlParserCtxtPtr ctxt = NULL;
  xmlDocPtr doc = NULL;
  bool doctype = false;

  s3_xml_init ();

  if (len == 0) {
    snprintf (why, why_len, "the body is empty");
    goto out;
  }
  if (len > INT_MAX) {
    snprintf (why, why_len, "the body is too large (%zu bytes)", len);
    goto out;
  }

  ctxt = xmlNewParserCtxt ();
  if (ctxt == NULL) {
    snprintf (why, why_len, "out of memory");
    goto out;
  }
  ctxt->_private = &doctype;
  ctxt->sax->internalSubset = refuse_doctype;

  doc = xmlCtxtReadMemory (ctxt, body, (int) len, NULL, NULL, PARSE_OPTIONS);
  if (doctype) {
    snprintf (why, why_len, "a DOCTYPE is not allowed");
    xmlFreeDoc (doc);
    doc = NULL;
  }
  else if (doc == NULL || !ctxt->wellFormed) {
    const xmlError *e = xmlCtxtGetLastError (ctxt);
    char msg[200];

    /* libxml2's messages end in, and may contain, line breaks. */
    copy_field (msg, sizeof msg,
                e && e->message ? e->message : "not well-formed XML");
    if (e && e->line > 0)
      snprintf (why, why_len, "line %d: %s", e->line, msg);
    else
      snprintf (why, why_len, "%s", msg);
    xmlFreeDoc (doc);
    doc = NULL;
  }
  else if (xmlDocGetRootElement (doc) == NULL) {
    snprintf (why, why_len, "the document has no root element");
    xmlFreeDoc (doc);
    doc = NULL;
  }

 out:
  if (ctxt)
    xmlFreeParserCtxt (ctxt);
  return doc;
}

static bool
is_element (xmlNodePtr node, const char *name)
{
  return node->type == XML_ELEMENT_NODE &&
    strcmp ((const char *) node->name, name) == 0;
}

/* The first child element of PARENT called NAME, or NULL. */
static xmlNodePtr
child (xmlNodePtr parent, const char *name)
{
  for (xmlNodePtr n = parent->children; n; n = n->next)
    if (is_element (n, name))
      return n;
  return NULL;
}

/* The text of NODE as a new malloc'd string (libxml2 decodes entities and
 * character references), or NULL when out of memory.
 */
static char *
text_of (xmlNodePtr node)
{
  xmlChar *x = xmlNodeGetContent (node);
  char *s;

  if (x == NULL)
    return strdup ("");
  s = strdup ((const char *) x);
  xmlFree (x);
  return s;
}

/* Copy the text of ROOT's first child element NAME into DST (SIZE bytes)
 * with copy_field; empty if there is none.  -1 when out of memory.
 */
static int
get_field (xmlNodePtr root, const char *name, char *dst, size_t size)
{
  xmlNodePtr n = child (root, name);
  char *s;

  dst[0] = '\0';
  if (n == NULL)
    return 0;
  s = text_of (n);
  if (s == NULL)
    return -1;
  copy_field (dst, size, s);
  free (s);
  return 0;
}

/* ROOT is an element called Error: fill ERR.  0, or -1 with ERR cleared. */
static int
error_from_root (xmlNodePtr root, struct s3_error *err)
{
  if (get_field (root, "Code", err->code, sizeof err->code) == -1 ||
      get_field (root, "Message", err->message, sizeof err->message) == -1 ||
      get_field (root, "RequestId", err->request_id,
                 sizeof err->request_id) == -1 ||
      get_field (root, "Region", err->region, sizeof err->region) == -1 ||
      err->code[0] == '\0') {
    memset (err, 0, sizeof *err);
    return -1;
  }
  return 0;
}

int
s3_xml_parse_error (const char *body, size_t len, struct s3_error *err)
{
  xmlDocPtr doc = NULL;
  xmlNodePtr root;
  char why[256];
  int r = -1;

  memset (err, 0, sizeof *err);
  doc = parse_document (body, len, why, sizeof why);
  if (doc == NULL)
    goto out;
  root = xmlDocGetRootElement (doc);
  if (!is_element (root, "Error"))
    goto out;
  r = error_from_root (root, err);

 out:
  if (doc)
    xmlFreeDoc (doc);
  return r;
}

/* Growable arrays of the list result. */
static int
add_object (struct s3_list_result *res, size_t *cap, char *key,
            uint64_t size, const char *etag)
{
  if (res->nr_objects == *cap) {
    size_t ncap = *cap ? *cap * 2 : 64;
    struct s3_list_object *p =
      realloc (res->objects, ncap * sizeof *res->objects);

    if (p == NULL)
      return -1;
    res->objects = p;
    *cap = ncap;
  }
  res->objects[res->nr_objects].key = key;
  res->objects[res->nr_objects].size = size;
  strcpy (res->objects[res->nr_objects].etag, etag);
  res->nr_objects++;
  return 0;
}

static int
add_prefix (struct s3_list_result *res, size_t *cap, char *prefix)
{
  if (res->nr_prefixes == *cap) {
    size_t ncap = *cap ? *cap * 2 : 16;
    char **p = realloc (res->prefixes, ncap * sizeof *res->prefixes);

    if (p == NULL)
      return -1;
    res->prefixes = p;
    *cap = ncap;
  }
  res->prefixes[res->nr_prefixes++] = prefix;
  return 0;
}

/* The text of NODE, trimmed, compared with a word. */
static bool
text_is (const char *s, const char *word)
{
  size_t n = strlen (word);

  while (text_is_space (*s))
    s++;
  if (strncasecmp (s, word, n) != 0)
    return false;
  s += n;
  while (text_is_space (*s))
    s++;
  return *s == '\0';
}

/* Fill RES (already cleared) from the ListBucketResult element ROOT.
 * 0, or -1 with the reason in WHY.
 */
static int
list_from_root (xmlNodePtr root, struct s3_list_result *res,
                char *why, size_t why_len)
{
  size_t objects_cap = 0, prefixes_cap = 0;
  char *s = NULL;
  int r = -1;

  res->key_count = -1;
  for (xmlNodePtr n = root->children; n; n = n->next) {
    if (n->type != XML_ELEMENT_NODE)
      continue;

    if (is_element (n, "Contents")) {
      xmlNodePtr key = child (n, "Key"), size = child (n, "Size");
      xmlNodePtr etag = child (n, "ETag");
      char etag_text[S3_XML_ETAG_MAX] = "";
      uint64_t v;

      if (key == NULL) {
        snprintf (why, why_len, "<Contents> without <Key>");
        goto out;
      }
      if (size == NULL) {
        snprintf (why, why_len, "<Contents> without <Size>");
        goto out;
      }
      if ((s = text_of (size)) == NULL)
        goto nomem;
      if (text_parse_u64 (s, &v) == -1) {
        snprintf (why, why_len, "<Size> is not a number: \"%.40s\"", s);
        goto out;
      }
      free (s);
      if (etag) {
        if ((s = text_of (etag)) == NULL)
          goto nomem;
        copy_field (etag_text, sizeof etag_text, s);
        free (s);
      }
      if ((s = text_of (key)) == NULL)
        goto nomem;
      if (add_object (res, &objects_cap, s, v, etag_text) == -1)
        goto nomem;
      s = NULL;
    }
    else if (is_element (n, "CommonPrefixes")) {
      /* One Prefix per CommonPrefixes in practice; accept several. */
      for (xmlNodePtr p = n->children; p; p = p->next) {
        if (!is_element (p, "Prefix"))
          continue;
        if ((s = text_of (p)) == NULL)
          goto nomem;
        if (add_prefix (res, &prefixes_cap, s) == -1)
          goto nomem;
        s = NULL;
      }
    }
    else if (is_element (n, "IsTruncated")) {
      if ((s = text_of (n)) == NULL)
        goto nomem;
      if (text_is (s, "true"))
        res->is_truncated = true;
      else if (text_is (s, "false"))
        res->is_truncated = false;
      else {
        snprintf (why, why_len, "<IsTruncated> is neither true nor false: "
                  "\"%.40s\"", s);
        goto out;
      }
      free (s);
      s = NULL;
    }
    else if (is_element (n, "NextContinuationToken")) {
      if ((s = text_of (n)) == NULL)
        goto nomem;
      free (res->next_token);
      res->next_token = s;
      s = NULL;
    }
    else if (is_element (n, "KeyCount")) {
      uint64_t v;

      if ((s = text_of (n)) == NULL)
        goto nomem;
      if (text_parse_u64 (s, &v) == -1 || v > INT64_MAX) {
        snprintf (why, why_len, "<KeyCount> is not a number: \"%.40s\"", s);
        goto out;
      }
      res->key_count = (int64_t) v;
      free (s);
      s = NULL;
    }
  }

  if (res->is_truncated &&
      (res->next_token == NULL || res->next_token[0] == '\0')) {
    snprintf (why, why_len,
              "<IsTruncated> is true but there is no NextContinuationToken");
    goto out;
  }
  if (!res->is_truncated) {
    /* A last page carries no token to follow. */
    free (res->next_token);
    res->next_token = NULL;
  }
  r = 0;
  goto out;

 nomem:
  snprintf (why, why_len, "out of memory");
 out:
  free (s);
  return r;
}

int
s3_xml_parse_list (const char *body, size_t len, struct s3_list_result *res)
{
  xmlDocPtr doc = NULL;
  xmlNodePtr root;
  char why[768];                /* fits an S3 Error code and message */
  int r = -1;

  memset (res, 0, sizeof *res);
  doc = parse_document (body, len, why, sizeof why);
  if (doc == NULL)
    goto out;
  root = xmlDocGetRootElement (doc);

  if (is_element (root, "Error")) {
    struct s3_error err;

    if (error_from_root (root, &err) == 0)
      snprintf (why, sizeof why, "the response is an S3 Error: %s: %s",
                err.code, s3_error_text (&err));
    else
      snprintf (why, sizeof why, "the root element is <Error> without "
                "<Code>");
    goto out;
  }
  if (!is_element (root, "ListBucketResult")) {
    snprintf (why, sizeof why,
              "the root element is <%.64s>, not <ListBucketResult>",
              (const char *) root->name);
    goto out;
  }
  r = list_from_root (root, res, why, sizeof why);

 out:
  if (doc)
    xmlFreeDoc (doc);
  if (r == -1) {
    s3_xml_list_free (res);
    nbdkit_error ("malformed ListBucketResult from S3: %s", why);
  }
  return r;
}

int
s3_xml_parse_copy_result (const char *body, size_t len,
                          char etag[S3_XML_ETAG_MAX], struct s3_error *err)
{
  xmlDocPtr doc = NULL;
  xmlNodePtr root;
  char why[256];
  int r = -1;

  memset (err, 0, sizeof *err);
  etag[0] = '\0';
  doc = parse_document (body, len, why, sizeof why);
  if (doc == NULL)
    goto out;
  root = xmlDocGetRootElement (doc);
  if (is_element (root, "Error")) {
    if (error_from_root (root, err) == -1)
      snprintf (err->code, sizeof err->code, "Error");
    goto out;
  }
  if (is_element (root, "CopyObjectResult") &&
      get_field (root, "ETag", etag, S3_XML_ETAG_MAX) == 0 && etag[0])
    r = 0;

 out:
  if (doc)
    xmlFreeDoc (doc);
  return r;
}

void
s3_xml_list_free (struct s3_list_result *res)
{
  if (res == NULL)
    return;
  for (size_t i = 0; i < res->nr_objects; ++i)
    free (res->objects[i].key);
  free (res->objects);
  for (size_t i = 0; i < res->nr_prefixes; ++i)
    free (res->prefixes[i]);
  free (res->prefixes);
  free (res->next_token);
  memset (res, 0, sizeof *res);
  res->key_count = -1;
}

/* ---- DeleteObjects ---- */

char *
s3_xml_delete_body (const char *const *keys, size_t n, size_t *len)
{
  static const char head[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<Quiet>true</Quiet>";
  static const char tail[] = "</Delete>";
  size_t cap = sizeof head + sizeof tail, at;
  char *body;

  for (size_t i = 0; i < n; ++i)
    cap += sizeof "<Object><Key></Key></Object>" + 5 * strlen (keys[i]);
  if ((body = malloc (cap)) == NULL)
    return NULL;
  at = stpcpy (body, head) - body;
  for (size_t i = 0; i < n; ++i) {
    at += sprintf (body + at, "<Object><Key>");
    for (const char *p = keys[i]; *p; ++p)
      switch (*p) {
      case '&': at += sprintf (body + at, "&amp;"); break;
      case '<': at += sprintf (body + at, "&lt;"); break;
      case '>': at += sprintf (body + at, "&gt;"); break;
      default: body[at++] = *p;
      }
    at += sprintf (body + at, "</Key></Object>");
  }
  at = stpcpy (body + at, tail) - body;
  *len = at;
  return body;
}

int
s3_xml_parse_delete (const char *body, size_t len, size_t *nfailed,
                     char *first_key, size_t key_len, struct s3_error *err)
{
  xmlDocPtr doc = NULL;
  xmlNodePtr root;
  char why[256];
  int r = -1;

  *nfailed = 0;
  first_key[0] = '\0';
  memset (err, 0, sizeof *err);
  doc = parse_document (body, len, why, sizeof why);
  if (doc == NULL)
    goto out;
  root = xmlDocGetRootElement (doc);
  if (!is_element (root, "DeleteResult")) {
    snprintf (why, sizeof why, "the root element is %s, not DeleteResult",
              (const char *) root->name);
    goto out;
  }
  r = 0;
  for (xmlNodePtr n = root->children; n; n = n->next) {
    struct s3_error e;
    char key[1024];

    if (!is_element (n, "Error"))
      continue;
    if (get_field (n, "Key", key, sizeof key) == -1 || key[0] == '\0' ||
        error_from_root (n, &e) == -1) {
      snprintf (why, sizeof why, "an Error without its Key or Code");
      r = -1;
      goto out;
    }
    if (strcmp (e.code, "NoSuchKey") == 0)
      continue;
    if ((*nfailed)++ == 0) {
      snprintf (first_key, key_len, "%s", key);
      *err = e;
    }
  }

 out:
  if (doc)
    xmlFreeDoc (doc);
  if (r == -1)
    nbdkit_error ("malformed DeleteResult from S3: %s", why);
  return r;
}

/* ---- STS answers ---- */

void
s3_xml_sts_free (struct s3_sts_credentials *creds)
{
  free (creds->access_key_id);
  text_secret_free (creds->secret_access_key);
  text_secret_free (creds->session_token);
  free (creds->expiration);
  memset (creds, 0, sizeof *creds);
}

/* The text of PARENT's child NAME into *DST; -1 if absent or out of
 * memory.
 */
static int
sts_field (xmlNodePtr parent, const char *name, char **dst)
{
  xmlNodePtr n = child (parent, name);

  char *t;

  if (n == NULL || (*dst = text_of (n)) == NULL)
    return -1;
  t = text_trim (*dst);
  memmove (*dst, t, strlen (t) + 1);
  return **dst ? 0 : -1;
}

/* The Credentials element of an STS answer ROOT, or NULL. */
static xmlNodePtr
sts_credentials (xmlNodePtr root)
{
  const char *name = (const char *) root->name;
  size_t n = strlen (name);
  char result[128];

  if (root->type != XML_ELEMENT_NODE || n < 8 || n > 100 ||
      strcmp (name + n - 8, "Response") != 0)
    return NULL;
  snprintf (result, sizeof result, "%.*sResult", (int) (n - 8), name);
  root = child (root, result);
  return root ? child (root, "Credentials") : NULL;
}

int
s3_xml_parse_sts (const char *body, size_t len,
                  struct s3_sts_credentials *creds, struct s3_error *err)
{
  xmlDocPtr doc = NULL;
  xmlNodePtr root, c, e;
  char why[256];
  int r = -1;

  memset (creds, 0, sizeof *creds);
  memset (err, 0, sizeof *err);
  doc = parse_document (body, len, why, sizeof why);
  if (doc == NULL)
    return -1;
  root = xmlDocGetRootElement (doc);
  if (is_element (root, "ErrorResponse") &&
      (e = child (root, "Error")) != NULL)
    error_from_root (e, err);
  else if (is_element (root, "Error"))
    error_from_root (root, err);
  else if ((c = sts_credentials (root)) != NULL &&
           sts_field (c, "AccessKeyId", &creds->access_key_id) == 0 &&
           sts_field (c, "SecretAccessKey", &creds->secret_access_key) == 0 &&
           sts_field (c, "SessionToken", &creds->session_token) == 0 &&
           sts_field (c, "Expiration", &creds->expiration) == 0)
    r = 0;
  if (r == -1)
    s3_xml_sts_free (creds);
  xmlFreeDoc (doc);
  return r;
}
