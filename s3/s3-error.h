/* SPDX-License-Identifier: MIT
 *
 * What an S3 failure means, for nbds3's S3 client: the one mapping of an
 * attempt's outcome to errno and "retry", the retry backoff, TLS failures,
 * and the readable words for S3 error codes (an explanation per code, one
 * line per failed request).  Pure functions: no I/O, no clock, no state,
 * and this header needs neither curl nor libxml2 (a CURLcode is passed as
 * an int).  s3-xml.c parses Error bodies into struct s3_error; s3-http.c
 * retries as s3_error_classify says and describes its requests with
 * s3_error_describe.
 */

#ifndef NBDS3_S3_ERROR_H
#define NBDS3_S3_ERROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sizes of the fields of struct s3_error, including the final NUL. */
#define S3_ERROR_CODE_MAX 64
#define S3_ERROR_MESSAGE_MAX 512
#define S3_ERROR_REQUEST_ID_MAX 128
#define S3_ERROR_REGION_MAX 64

/* A buffer of this size holds any s3_error_describe line whose METHOD and
 * RESOURCE together are at most 512 bytes.
 */
#define S3_ERROR_DESCRIBE_MAX 1536

/* Retry backoff: the Nth failed attempt waits between half and all of
 * min (S3_ERROR_BACKOFF_CAP_MS, S3_ERROR_BACKOFF_BASE_MS * 2^(N-1)).
 */
#define S3_ERROR_BACKOFF_BASE_MS 200
#define S3_ERROR_BACKOFF_CAP_MS 10000

/* An S3 Error body (see s3_xml_parse_error).  Every field is a
 * NUL-terminated string, UTF-8, on one line, possibly empty; an empty
 * CODE means the response carried no S3 error.
 */
struct s3_error {
  char code[S3_ERROR_CODE_MAX];              /* e.g. "NoSuchKey" */
  char message[S3_ERROR_MESSAGE_MAX];        /* radosgw often sends "" */
  char request_id[S3_ERROR_REQUEST_ID_MAX];
  char region[S3_ERROR_REGION_MAX];          /* wrong-region errors */
};

/* The one mapping of an attempt's outcome: CURL_CODE (a CURLcode), the
 * HTTP STATUS (0 if none) and the S3 error CODE (NULL or "" if none).
 * Returns 0 for success (2xx), else the errno to fail with (ENOENT for
 * 404 NoSuchKey, EAGAIN for 412 Precondition Failed (a conditional
 * request whose condition no longer holds), ENOSPC for quota errors,
 * ENOMEM, ESHUTDOWN for a cancelled transfer, EIO for everything else),
 * and sets *RETRY to whether another attempt may succeed: network errors,
 * 5xx except 501, 429, SlowDown, RequestTimeout and
 * ConditionalRequestConflict.
 */
extern int s3_error_classify (int curl_code, long status, const char *code,
                              bool *retry);

/* The wait in milliseconds after failed attempt ATTEMPT (1, 2, ...), with
 * jitter drawn from RANDOM: between half and all of min (cap, base *
 * 2^(ATTEMPT-1)).
 */
extern unsigned s3_error_backoff_ms (unsigned attempt, uint32_t random);

/* true if STATUS and the S3 error CODE say the session token was refused
 * as expired or invalid (ExpiredToken, InvalidToken,
 * TokenRefreshRequired; and, for TEMPORARY credentials -- with a session
 * token -- 403 InvalidAccessKeyId, radosgw's answer to an expired STS
 * session): renewable credentials are renewed and the request signed
 * again, once.
 */
extern bool s3_error_is_refused_token (long status, const char *code,
                                       bool temporary);

/* true if the CURLcode CURL_CODE is a TLS failure (handshake,
 * certificate, CA file), for advice about ca-file= and tls-verify=.
 */
extern bool s3_error_is_tls (int curl_code);

/* What the S3 error CODE means, in words a person can act on (naming the
 * config key to check where one applies), or NULL for a code this module
 * does not know.  The string is static.
 */
extern const char *s3_error_explain (const char *code);

/* The words for ERR (a non-empty code): its Message, or
 * s3_error_explain's words when the Message is empty, or "no message"
 * when neither exists.  Never NULL; points into ERR or to a static
 * string.
 */
extern const char *s3_error_text (const struct s3_error *err);

/* Write one line describing a failed S3 request into BUF (LEN bytes,
 * always NUL-terminated when LEN > 0, cut if too small) and return BUF:
 *
 *   S3 <METHOD> <RESOURCE>: <STATUS> <Code>: <text> (request id <id>)
 *
 * where <text> is s3_error_text's; the request id part is left out when
 * empty.  When ERR is NULL or has an empty code (the body was not an S3
 * Error), the line is
 *
 *   S3 <METHOD> <RESOURCE>: <STATUS> <reason> (no S3 error in the response)
 *
 * with <reason> the HTTP reason phrase when known (e.g. "Bad Gateway").
 * METHOD NULL reads "request"; RESOURCE (an object key or "bucket NAME")
 * may be NULL or empty.
 */
extern char *s3_error_describe (const char *method, const char *resource,
                                long status, const struct s3_error *err,
                                char *buf, size_t len);

#endif /* NBDS3_S3_ERROR_H */
