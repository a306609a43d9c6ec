/* SPDX-License-Identifier: MIT
 *
 * The XML part of nbds3's S3 client (libxml2): S3 Error bodies into
 * struct s3_error (whose readable words are s3-error.h's),
 * ListObjectsV2 ListBucketResult pages, DeleteObjects requests and their
 * DeleteResult, and STS AssumeRole* answers (the credential chain's,
 * s3-creds-sts.c).  No curl, no I/O, no clock: bytes
 * in, structs out.
 *
 * Documents are parsed without network access, without loading or
 * substituting external entities, and any document with a DOCTYPE is
 * refused (S3 never sends one), so a hostile server or proxy cannot make
 * the parser read files, reach the network or expand entity bombs.
 * libxml2 never prints to stderr on our behalf.
 *
 * Thread safety: call s3_xml_init once before nbdkit starts its threads
 * (e.g. in .config_complete); after that every function here may be called
 * from any number of threads at once.  (The parse functions call
 * s3_xml_init themselves, which is safe, but libxml2 prefers its
 * initialisation to happen on the main thread.)
 */

#ifndef NBDS3_S3_XML_H
#define NBDS3_S3_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "s3-error.h"

/* Size of an ETag (with its quotes) of a listing, including the NUL.
 * Longer ETags are cut (no S3 server sends one that long).
 */
#define S3_XML_ETAG_MAX 72

/* One Contents entry of a listing. */
struct s3_list_object {
  char *key;                    /* the full object key, decoded UTF-8 */
  uint64_t size;                /* Size, in bytes */
  char etag[S3_XML_ETAG_MAX];   /* ETag as sent, quotes included, e.g.
                                 * "\"0123...\"": "" if there was none */
};

/* One page of a ListObjectsV2 listing.  Owned by the caller; release with
 * s3_xml_list_free.
 */
struct s3_list_result {
  bool is_truncated;            /* IsTruncated: more pages follow */
  char *next_token;             /* NextContinuationToken: non-NULL iff
                                 * is_truncated.  The caller may take it
                                 * (and set the field to NULL) before
                                 * s3_xml_list_free, to ask for the next
                                 * page. */
  int64_t key_count;            /* KeyCount, or -1 if the server sent none */
  struct s3_list_object *objects; /* every Contents, in document order */
  size_t nr_objects;
  char **prefixes;              /* every CommonPrefixes/Prefix (listings
                                 * with a delimiter), in document order */
  size_t nr_prefixes;
};

/* Initialise libxml2 and silence its own error output.  Idempotent and
 * thread-safe; call it before nbdkit starts threads.
 */
extern void s3_xml_init (void);

/* Release libxml2's global state (xmlCleanupParser).  Optional: only for
 * .unload, after every other thread has stopped using this module; a
 * later s3_xml_init starts afresh.
 */
extern void s3_xml_cleanup (void);

/* Parse an S3 Error body of LEN bytes (need not be NUL-terminated).
 * Returns 0 with ERR filled in if BODY is a well-formed XML document whose
 * root element is Error with a non-empty Code: each field on one line
 * (control characters become spaces, surrounding white space is trimmed),
 * a value longer than its field cut at a UTF-8 character boundary.
 * Otherwise (empty, truncated or malformed XML, HTML from a proxy, another
 * root element) returns -1 with ERR cleared to empty strings.  Reports
 * nothing: the caller, which knows the request and status, says what went
 * wrong (see s3_error_describe).
 */
extern int s3_xml_parse_error (const char *body, size_t len,
                               struct s3_error *err);

/* Parse one ListObjectsV2 response page of LEN bytes (need not be
 * NUL-terminated) into RES, which is overwritten (not freed): pass a new
 * struct or one released with s3_xml_list_free.  Returns 0, or -1 with
 * nbdkit_error ("malformed ListBucketResult from S3: ...") and RES left
 * empty (nothing to free) when the body is not well-formed XML, its root
 * element is not ListBucketResult, a Contents lacks its Key or a valid
 * Size, or IsTruncated is true without a NextContinuationToken.  Element
 * names are matched by local name, so the document may or may not carry
 * S3's default namespace.  Request the listing without encoding-type=url:
 * keys are returned as the XML decodes them.
 */
extern int s3_xml_parse_list (const char *body, size_t len,
                              struct s3_list_result *res);

/* Free everything RES holds and clear it, so it can be reused.  RES may
 * be NULL.
 */
extern void s3_xml_list_free (struct s3_list_result *res);

/* Parse the answer of LEN bytes to a CopyObject (a PUT with
 * x-amz-copy-source).  S3 may answer 200 and still fail, with an <Error>
 * body: 0 and ETAG (as sent, quotes included) only for a
 * <CopyObjectResult> with an ETag; -1 otherwise, with ERR filled in from
 * an <Error> body (Code "Error" when it has none), or cleared when the
 * body is neither.  Reports nothing.
 */
extern int s3_xml_parse_copy_result (const char *body, size_t len,
                                     char etag[S3_XML_ETAG_MAX],
                                     struct s3_error *err);

/* The body of a DeleteObjects request (POST ?delete) for the N keys
 * KEYS, quiet (the answer names only the keys that failed), escaped for
 * XML: a new string, its length in *LEN.  NULL when out of memory.
 */
extern char *s3_xml_delete_body (const char *const *keys, size_t n,
                                 size_t *len);

/* Parse the DeleteResult of a DeleteObjects request, LEN bytes: 0 with
 * *NFAILED the number of its Error entries other than NoSuchKey (a key
 * that was not there is deleted), and the first of them in FIRST_KEY (of
 * KEY_LEN bytes) and ERR; or -1 after nbdkit_error ("malformed
 * DeleteResult from S3: ...").
 */
extern int s3_xml_parse_delete (const char *body, size_t len,
                                size_t *nfailed, char *first_key,
                                size_t key_len, struct s3_error *err);

/* The Credentials of an STS AssumeRole or AssumeRoleWithWebIdentity
 * answer; each string allocated (the secret and the token are wiped by
 * s3_xml_sts_free).
 */
struct s3_sts_credentials {
  char *access_key_id, *secret_access_key, *session_token, *expiration;
};

/* Parse an STS answer of LEN bytes: an <ActionResponse> whose
 * <ActionResult> holds <Credentials> with AccessKeyId, SecretAccessKey,
 * SessionToken and Expiration (all four required).  0 and CREDS filled;
 * or -1 with CREDS empty and ERR filled from an STS ErrorResponse (or an
 * S3 Error) when the body is one, else ERR's code empty.  Quiet: the
 * caller reports.
 */
extern int s3_xml_parse_sts (const char *body, size_t len,
                             struct s3_sts_credentials *creds,
                             struct s3_error *err);
extern void s3_xml_sts_free (struct s3_sts_credentials *creds);

#endif /* NBDS3_S3_XML_H */
