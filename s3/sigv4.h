/* SPDX-License-Identifier: MIT
 *
 * AWS Signature Version 4 (AWS4-HMAC-SHA256) for nbds3's own S3 client.
 * Pure code: OpenSSL for SHA-256 and HMAC, no curl, no clock (the time is
 * passed in), no locks, no globals, so any thread may sign at any time.
 *
 * The caller describes the request it is about to send: method, the
 * canonical URI path (already encoded, used verbatim: S3 encodes each key
 * segment once and never normalises), the query parameters raw (the signer
 * encodes and sorts them), every header it will send that is to be signed
 * (at least host), and the payload hash it sends as x-amz-content-sha256.
 * The signer owns the authentication material: in header mode it signs an
 * x-amz-date header (and x-amz-security-token when the credentials carry a
 * session token), which the caller must then send with the values given
 * below; in query mode it adds the X-Amz-* query parameters.
 */

#ifndef NBDS3_SIGV4_H
#define NBDS3_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define SIGV4_HEX_SIZE 65       /* 64 hex digits + NUL */
#define SIGV4_DATE_SIZE 17      /* "20150830T123600Z" + NUL */
#define SIGV4_KEY_SIZE 32       /* bytes of a derived signing key */

/* Bytes sigv4_uri_encode needs at most for an input of LEN bytes. */
#define SIGV4_URI_ENCODE_SIZE(len) (3 * (len) + 1)

/* A header or query parameter.  A NULL value means "". */
struct sigv4_pair {
  const char *name;
  const char *value;
};

struct sigv4_credentials {
  const char *access_key_id;
  const char *secret_access_key;
  const char *session_token;    /* NULL when there is none */
};

enum sigv4_mode {
  SIGV4_HEADER,                 /* sign for an Authorization header */
  SIGV4_QUERY,                  /* presign: X-Amz-* query parameters */
};

struct sigv4_request {
  enum sigv4_mode mode;
  const char *method;           /* "GET", "PUT", ... */
  const char *path;             /* canonical URI, already encoded: "/a%20b" */
  const struct sigv4_pair *query; /* raw (unencoded) names and values */
  size_t nquery;
  /* Headers to sign, names in any case, values raw (the signer trims
   * them and collapses runs of spaces; repeated names are joined with ','
   * in the order given).  Must not contain authorization, x-amz-date or
   * x-amz-security-token: the signer owns those.
   */
  const struct sigv4_pair *headers;
  size_t nheaders;
  const char *payload_hash;     /* sigv4_sha256_hex, or UNSIGNED-PAYLOAD */
  unsigned expires;             /* SIGV4_QUERY: X-Amz-Expires in seconds */
  /* Leave the session token out of the signature: the caller adds it after
   * signing (query mode: the signer appends it to sigv4_result.query
   * unsigned).  Some services want this; S3 does not.
   */
  bool unsigned_token;
};

/* What sigv4_sign produces.  The strings live in one buffer that
 * sigv4_result_free releases; after a failure they are all NULL.
 */
struct sigv4_result {
  char amz_date[SIGV4_DATE_SIZE];  /* "20150830T123600Z" */
  char signature[SIGV4_HEX_SIZE];  /* hex HMAC of string_to_sign */
  const char *canonical_request;
  const char *string_to_sign;
  const char *signed_headers;      /* "host;x-amz-date" */
  /* SIGV4_HEADER: the value of the Authorization header.  The caller
   * also sends "x-amz-date: <amz_date>", and "x-amz-security-token:
   * <token>" when the credentials carry one.  NULL in query mode.
   */
  const char *authorization;
  /* The query string to send after '?' ("" when there is none), encoded
   * and sorted; in query mode it ends with &X-Amz-Signature=<signature>.
   */
  const char *query;
  char *storage;                   /* owns the strings above */
  size_t storage_size;             /* its size, wiped on free */
};

/* Percent-encode the NUL-terminated IN into OUT (OUTLEN bytes, see
 * SIGV4_URI_ENCODE_SIZE): the RFC 3986 unreserved set A-Z a-z 0-9 - _ . ~
 * is kept, every other byte becomes %XX (upper case).  '/' is kept unless
 * ENCODE_SLASH; nothing is normalised ('.', '..' and '//' stay as they
 * are).  For an S3 path pass "/" + key with ENCODE_SLASH false.  Returns
 * the length written (without the NUL), or -1 if OUTLEN is too small.
 */
extern ssize_t sigv4_uri_encode (const char *in, bool encode_slash,
                                 char *out, size_t outlen);

/* The lower-case hex SHA-256 of LEN bytes at DATA into OUT: the value of
 * x-amz-content-sha256 and sigv4_request.payload_hash.  0 or -1.
 */
extern int sigv4_sha256_hex (const void *data, size_t len,
                             char out[SIGV4_HEX_SIZE]);

/* Derive the signing key: HMAC-SHA256 chained over "AWS4" + SECRET, DATE
 * (YYYYMMDD), REGION, SERVICE and "aws4_request".  The caller should
 * OPENSSL_cleanse KEY after use.  0 or -1.
 */
extern int sigv4_signing_key (const char *secret, const char *date,
                              const char *region, const char *service,
                              unsigned char key[SIGV4_KEY_SIZE]);

/* Sign REQ with CREDS for REGION and SERVICE ("s3") at time NOW.  Fills
 * in *RES, which the caller frees with sigv4_result_free, and returns 0;
 * or returns -1 after nbdkit_error (allocation failure, a header the
 * signer owns, a time that cannot be formatted).
 */
extern int sigv4_sign (const struct sigv4_request *req,
                       const struct sigv4_credentials *creds,
                       const char *region, const char *service, time_t now,
                       struct sigv4_result *res);

/* Free what sigv4_sign stored in RES.  Safe on a zeroed or failed
 * result, and twice.
 */
extern void sigv4_result_free (struct sigv4_result *res);

#endif /* NBDS3_SIGV4_H */
