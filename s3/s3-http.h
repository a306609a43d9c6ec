/* SPDX-License-Identifier: MIT
 *
 * The HTTP part of nbds3's S3 client (libcurl): a client for one bucket
 * that sends signed S3 requests over a bounded pool of reusable curl
 * handles, retrying what may succeed on a later attempt.  It builds on
 * s3-url.h (where a request goes), sigv4.h (signing), s3-xml.h (Error
 * bodies) and s3-error.h (what a failure means, and its words), and knows
 * nothing of pages or exports (store-s3.c maps those to requests).
 *
 * Thread safety: s3_http_global_init once before nbdkit starts threads;
 * then any number of threads may call s3_http_request on one client at
 * once (at most CONNECTIONS run, the others wait for a free handle).
 */

#ifndef NBDS3_S3_HTTP_H
#define NBDS3_S3_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "s3-config.h"
#include "s3-error.h"
#include "sigv4.h"

/* Error bodies are kept up to this size (the rest is discarded). */
#define S3_HTTP_ERROR_BODY_MAX (64 * 1024)
/* A response body the client allocates (listings) may be this large. */
#define S3_HTTP_ALLOC_MAX (16 * 1024 * 1024)
/* Room for an ETag response header (quotes included) and its NUL. */
#define S3_HTTP_ETAG_MAX 72
/* User metadata (x-amz-meta-NAME) a request sends or a response keeps:
 * at most this many entries, names and values of these sizes (NULs
 * included).  Longer or further ones in a response are ignored.
 */
#define S3_HTTP_META_COUNT 4
#define S3_HTTP_META_NAME_MAX 32
#define S3_HTTP_META_VALUE_MAX 80
/* Room for a line of s3_http_describe. */
#define S3_HTTP_DESCRIBE_MAX (S3_ERROR_DESCRIBE_MAX + 512)

/* Limits for one request that override the client's (the start-up
 * probe's short budget).  Zero fields keep the client's value.
 */
struct s3_http_budget {
  unsigned connect_timeout, request_timeout, retry_deadline;  /* seconds */
  unsigned max_attempts;        /* 0: as many as the deadline allows */
};

struct s3_http_request {
  const char *method;           /* "GET", "HEAD", "PUT", "DELETE" or
                                 * "POST" (DeleteObjects: s3-delete.h) */
  const char *key;              /* object key (raw); NULL: the bucket */
  const struct sigv4_pair *query; /* raw names and values */
  size_t nquery;
  const void *body;             /* PUT, POST: BODY_LEN bytes, sent as
                                 * they are */
  size_t body_len;
  /* POST: the Content-MD5 header (base64 of the body's MD5, which S3
   * requires of DeleteObjects), sent with Content-Type: application/xml.
   */
  const char *content_md5;
  /* Where a successful response's body goes: RESP_BUF of RESP_LEN bytes,
   * a longer body being an error; or, when RESP_BUF is NULL, a buffer the
   * client allocates (up to S3_HTTP_ALLOC_MAX) and returns in the
   * response.
   */
  void *resp_buf;
  size_t resp_len;
  /* A conditional request: If-Match: IF_MATCH (a quoted ETag) unless
   * NULL, and If-None-Match: * when IF_NONE_MATCH.  When the server says
   * 412 Precondition Failed, the request fails with EAGAIN and no error
   * is reported: the caller decides what it means.
   */
  const char *if_match;
  bool if_none_match;
  /* CopyObject: a PUT without a body whose object is a server-side copy
   * of COPY_SOURCE, the raw key of an object of the same bucket (sent
   * URL-encoded as x-amz-copy-source: /BUCKET/KEY, with its user metadata:
   * x-amz-metadata-directive: COPY).  With COPY_IF_MATCH (an ETag as the
   * server wants it) only if the source's ETag is that one, sent both as
   * AWS's x-amz-copy-source-if-match and as radosgw's x-amz-copy-if-match;
   * a refusal (412) is EAGAIN, not reported, as for IF_MATCH.  S3 may
   * answer 200 with an <Error> body: the caller parses the body
   * (s3_xml_parse_copy_result).
   */
  const char *copy_source;
  const char *copy_if_match;
  /* User metadata to store with a PUT: NMETA (at most
   * S3_HTTP_META_COUNT) pairs, names without the x-amz-meta- prefix, in
   * lower case; sent as x-amz-meta-NAME headers and signed.
   */
  const struct sigv4_pair *meta;
  size_t nmeta;
  /* A PUT also sends the client's x-amz-storage-class (pages; small
   * objects rewritten often, the lease and nbds3.meta, stay STANDARD).
   * Every PUT of an object sends the client's SSE headers.
   */
  bool storage_class;
  bool missing_ok;              /* 404 NoSuchKey is an answer, not an error
                                 * (for HEAD, any 404: it has no body) */
  bool quiet;                   /* report nothing: the caller describes it */
  const struct s3_http_budget *budget;  /* NULL: the client's limits */
  /* Monotonic ns (clock.h); 0: none.  No attempt starts at or after it:
   * the request fails with EIO instead (a lease that may run out).
   */
  int64_t not_after;
};

struct s3_http_response {
  long status;                  /* HTTP status of the last attempt, or 0 */
  int curl_code;                /* CURLcode of the last attempt */
  char *body;                   /* allocated body (RESP_BUF NULL), or NULL:
                                 * free with free() */
  size_t body_len;              /* bytes of the body received */
  struct s3_error err;          /* the last error body, parsed ("" codes
                                 * when there was none) */
  char curl_msg[256];           /* curl's error text of the last attempt */
  char etag[S3_HTTP_ETAG_MAX];  /* the ETag response header of the last
                                 * attempt as sent (quotes included), or
                                 * "" */
  int64_t content_length;       /* its Content-Length header, or -1 (a
                                 * HEAD tells an object's size so) */
  /* The x-amz-meta-* headers of the last attempt (GET and HEAD return an
   * object's user metadata): names without the prefix, in lower case.
   */
  struct s3_http_meta {
    char name[S3_HTTP_META_NAME_MAX];
    char value[S3_HTTP_META_VALUE_MAX];
  } meta[S3_HTTP_META_COUNT];
  unsigned nmeta;
  /* The region S3 says the bucket is in (x-amz-bucket-region, else the
   * Error body's Region), or "".
   */
  char bucket_region[S3_ERROR_REGION_MAX];
  bool too_long;                /* the body overflowed its buffer */
  bool cancelled;               /* s3_http_cancel ended the retries */
  bool past_not_after;          /* REQ->not_after ended the attempts */
  bool no_credentials;          /* none could be had (reported) */
  bool temporary_credentials;   /* the last attempt's had a session token */
  unsigned attempts;
  unsigned ms;                  /* all attempts, waits included */
};

struct s3_http;

/* Initialise libcurl (curl_global_init) and libxml2; pair with
 * s3_http_global_cleanup.  Call before nbdkit starts threads.  0 or -1.
 */
extern int s3_http_global_init (void);
extern void s3_http_global_cleanup (void);

/* A client for CFG (copied; secrets are wiped when it is freed), its
 * region resolved.  With no endpoint it talks to AWS in the region; with
 * S3_ADDRESSING_AUTO it puts the bucket in the host name for AWS (unless
 * the name has dots, which break TLS) and in the path elsewhere.  NULL
 * after nbdkit_error (e.g. a malformed endpoint).
 */
extern struct s3_http *s3_http_new (const struct s3_config *cfg);

/* The endpoint ("http[s]://host[:port]") and bucket of H, for messages. */
extern const char *s3_http_endpoint (const struct s3_http *h);
extern const char *s3_http_bucket (const struct s3_http *h);
extern void s3_http_free (struct s3_http *h);

/* Give up retrying: requests in flight are aborted and fail, and later
 * ones fail at once, with ESHUTDOWN.  Any thread, any number of times.
 * Returns how many requests were in flight (an aborted request may
 * still reach the server).
 */
extern unsigned s3_http_cancel (struct s3_http *h);

/* Undo s3_http_cancel for requests started from now on. */
extern void s3_http_resume (struct s3_http *h);

/* Send REQ, re-signing and resending while s3_error_classify says another
 * attempt may succeed, within the retry deadline.  Returns 0 when S3
 * answered 2xx, or 404 NoSuchKey with REQ->missing_ok (RESP->status tells
 * which); otherwise -1 with errno set, after one nbdkit_error naming the
 * method and key (unless REQ->quiet).  RESP is always filled in; free
 * RESP->body when RESP_BUF was NULL.
 */
extern int s3_http_request (struct s3_http *h,
                            const struct s3_http_request *req,
                            struct s3_http_response *resp);

/* One line saying why REQ failed with RESP (the S3 error with its code,
 * the network error, or the overflow), into BUF of LEN bytes; returns
 * BUF.
 */
extern char *s3_http_describe (const struct s3_http *h,
                               const struct s3_http_request *req,
                               const struct s3_http_response *resp,
                               char *buf, size_t len);

/* Take one response header LINE of N bytes, as curl hands it over (not
 * NUL-terminated, its CRLF included), into RESP: the ETag header into
 * RESP->etag and x-amz-meta-NAME headers into RESP->meta; other headers,
 * and ones whose name or value does not fit, are ignored.  Pure
 * (s3-headers.c): the header callback's parser.
 */
extern void s3_http_header_line (struct s3_http_response *resp,
                                 const char *line, size_t n);

/* The value of user metadata NAME (lower case, without x-amz-meta-) in
 * RESP, or NULL if the response did not carry it.
 */
extern const char *s3_http_response_meta (const struct s3_http_response *resp,
                                          const char *name);

#endif /* NBDS3_S3_HTTP_H */
