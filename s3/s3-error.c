/* SPDX-License-Identifier: MIT
 *
 * What an S3 failure means: this file owns the one mapping of an attempt's
 * outcome (CURLcode, HTTP status, S3 error code) to errno and "retry"
 * (s3_error_classify, the only place that decides what s3-http.c retries),
 * the capped exponential backoff between attempts, which CURLcodes are TLS
 * failures, and the readable words for S3 error codes: the table of
 * explanations and the one-line description of a failed request.  Pure
 * functions, no I/O, no clock, no state.  It includes <curl/curl.h> only
 * for the CURLcode names it switches on and calls no libcurl function, so
 * it links without libcurl; parsing Error bodies (libxml2) stays in
 * s3-xml.c.  s3_http_describe stays in s3-http.c: it needs libcurl's
 * curl_easy_strerror and s3-http.h's request and response, and s3-http
 * sits above this file, not below it.
 */

#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "s3-error.h"

int
s3_error_classify (int curl_code, long status, const char *code, bool *retry)
{
  *retry = false;
  if (code == NULL)
    code = "";

  switch ((CURLcode) curl_code) {
  case CURLE_OK:
    break;
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_CONNECT:
  case CURLE_OPERATION_TIMEDOUT:
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE:
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
  case CURLE_WEIRD_SERVER_REPLY:
    *retry = true;
    return EIO;
  case CURLE_OUT_OF_MEMORY:
    return ENOMEM;
  case CURLE_ABORTED_BY_CALLBACK:       /* only s3_http_cancel aborts */
    return ESHUTDOWN;
  default:                              /* TLS, our write abort, ... */
    return EIO;
  }

  if (status >= 200 && status <= 299)
    return 0;
  if (status == 404 && strcmp (code, "NoSuchKey") == 0)
    return ENOENT;
  if (status == 412)
    return EAGAIN;
  if ((status >= 500 && status != 501) || status == 429 ||
      strcmp (code, "SlowDown") == 0 || strcmp (code, "RequestTimeout") == 0 ||
      strcmp (code, "ConditionalRequestConflict") == 0) {
    *retry = true;
    return EIO;
  }
  if (strcmp (code, "QuotaExceeded") == 0 ||
      strcmp (code, "EntityTooLarge") == 0)
    return ENOSPC;
  return EIO;                   /* other 4xx, 3xx, no status */
}

bool
s3_error_is_refused_token (long status, const char *code, bool temporary)
{
  if (status != 400 && status != 403)
    return false;
  /* radosgw (16.2, rgw s3 auth order = local, sts) answers an expired
   * STS session 403 InvalidAccessKeyId: its access key is unknown to the
   * local engine, and the STS engine's refusal is not reported.
   */
  if (temporary && status == 403 && strcmp (code, "InvalidAccessKeyId") == 0)
    return true;
  return strcmp (code, "ExpiredToken") == 0 ||
    strcmp (code, "InvalidToken") == 0 ||
    strcmp (code, "TokenRefreshRequired") == 0;
}

bool
s3_error_is_tls (int curl_code)
{
  switch ((CURLcode) curl_code) {
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
    return true;
  default:
    return false;
  }
}

unsigned
s3_error_backoff_ms (unsigned attempt, uint32_t random)
{
  unsigned max = S3_ERROR_BACKOFF_CAP_MS;

  if (attempt < 1)
    attempt = 1;
  if (attempt <= 16 &&
      (S3_ERROR_BACKOFF_BASE_MS << (attempt - 1)) < S3_ERROR_BACKOFF_CAP_MS)
    max = S3_ERROR_BACKOFF_BASE_MS << (attempt - 1);
  return max / 2 + random % (max / 2 + 1);
}

/* Sorted by code, for bsearch. */
static const struct explanation {
  const char *code;
  const char *text;
} explanations[] = {
  { "AccessDenied",
    "the credentials lack permission for this request (the plugin needs "
    "s3:ListBucket, s3:GetObject, s3:PutObject, s3:DeleteObject)" },
  { "AccountProblem",
    "the account behind these credentials is blocked or disabled: "
    "contact the S3 provider" },
  { "AuthorizationHeaderMalformed",
    "the request was signed for the wrong region: check region=" },
  { "BadDigest",
    "the body did not match its Content-MD5: the data was changed "
    "in transit" },
  { "ConditionalRequestConflict",
    "a concurrent conditional write to the same object conflicted: "
    "try again" },
  { "EntityTooLarge",
    "the object is larger than the server accepts: use a smaller "
    "page-size=" },
  { "ExpiredToken",
    "the session token has expired: credentials from a renewable source "
    "(a role, web identity, credential_process, container, instance "
    "metadata) were renewed once and refused again; static ones "
    "(session-token=, AWS_SESSION_TOKEN, aws_session_token) need new ones "
    "and a restart" },
  { "IncompleteBody",
    "the server received less data than the request announced: a network "
    "or proxy problem" },
  { "InternalError",
    "the S3 server failed internally: usually temporary, try again later" },
  { "InvalidAccessKeyId",
    "the access key is not known to the server: check access-key=" },
  { "InvalidArgument",
    "the server refused a request parameter: is endpoint= an "
    "S3-compatible server?" },
  { "InvalidBucketName",
    "the bucket name is not valid: check bucket=" },
  { "InvalidObjectState",
    "the object is archived (e.g. in Glacier) and cannot be read "
    "directly" },
  { "InvalidRange",
    "the requested byte range lies outside the object" },
  { "InvalidToken",
    "the session token is malformed or not valid: check session-token=, "
    "AWS_SESSION_TOKEN or aws_session_token (renewable credentials were "
    "renewed once and refused again)" },
  { "KeyTooLongError",
    "the object key is longer than the server allows: use a shorter "
    "export name" },
  { "MethodNotAllowed",
    "the server does not allow this method on this resource: is endpoint= "
    "an S3 server?" },
  { "MissingContentLength",
    "the request reached the server without a Content-Length (a proxy may "
    "have removed it)" },
  { "MissingSecurityHeader",
    "a required header is missing: temporary credentials need "
    "session-token=" },
  { "NoSuchBucket",
    "the bucket does not exist: create it or fix bucket=" },
  { "NoSuchKey",
    "the object does not exist" },
  { "NotImplemented",
    "the server does not implement this request: it may not be fully "
    "S3-compatible" },
  { "OperationAborted",
    "a conflicting operation on the bucket is in progress: try again" },
  { "PermanentRedirect",
    "the bucket lives at another endpoint (wrong region or endpoint): "
    "check region= and endpoint=" },
  { "PreconditionFailed",
    "a condition of the request did not hold: another writer changed "
    "the object" },
  { "QuotaExceeded",
    "the user's or bucket's quota on the server is exhausted: free space "
    "or raise the quota" },
  { "RequestTimeTooSkewed",
    "the clock of this machine is off (by more than 15 minutes from the "
    "server's): set the time, e.g. with NTP" },
  { "RequestTimeout",
    "the server gave up waiting for the request body: the network is slow "
    "or congested" },
  { "ServiceUnavailable",
    "the server is overloaded or down: try again later, or lower "
    "connections=" },
  { "SignatureDoesNotMatch",
    "the secret key is wrong (or a proxy changed the request): "
    "check secret-key=" },
  { "SlowDown",
    "the server asks for fewer requests per second: lower connections=" },
  { "TemporaryRedirect",
    "the bucket is temporarily served elsewhere (a new bucket, or the "
    "wrong region): check region= and endpoint=" },
  { "TokenRefreshRequired",
    "the session token must be refreshed: renewable credentials were "
    "renewed once and refused again; static ones (session-token=, "
    "AWS_SESSION_TOKEN, aws_session_token) need new ones and a restart" },
  { "UserSuspended",
    "the user account is suspended on the server" },
  { "XAmzContentSHA256Mismatch",
    "the body did not match its x-amz-content-sha256 hash: the data was "
    "changed in transit (a proxy?)" },
};

static int
compare_explanation (const void *key, const void *elem)
{
  const struct explanation *e = elem;

  return strcmp (key, e->code);
}

const char *
s3_error_explain (const char *code)
{
  const struct explanation *e;

  if (code == NULL)
    return NULL;
  e = bsearch (code, explanations,
               sizeof explanations / sizeof explanations[0],
               sizeof explanations[0], compare_explanation);
  return e ? e->text : NULL;
}

const char *
s3_error_text (const struct s3_error *err)
{
  const char *text = err->message;

  if (text[0] == '\0')
    text = s3_error_explain (err->code);
  return text ? text : "no message";
}

static const char *
reason_phrase (long status)
{
  switch (status) {
  case 301: return "Moved Permanently";
  case 307: return "Temporary Redirect";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 409: return "Conflict";
  case 411: return "Length Required";
  case 412: return "Precondition Failed";
  case 413: return "Payload Too Large";
  case 416: return "Range Not Satisfiable";
  case 429: return "Too Many Requests";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  default:  return NULL;
  }
}

char *
s3_error_describe (const char *method, const char *resource,
                   long status, const struct s3_error *err,
                   char *buf, size_t len)
{
  const char *sep = resource && *resource ? " " : "";

  if (len == 0)
    return buf;
  if (method == NULL)
    method = "request";
  if (resource == NULL)
    resource = "";

  if (err == NULL || err->code[0] == '\0') {
    const char *reason = reason_phrase (status);

    snprintf (buf, len, "S3 %s%s%s: %ld%s%s (no S3 error in the response)",
              method, sep, resource, status,
              reason ? " " : "", reason ? reason : "");
    return buf;
  }

  snprintf (buf, len, "S3 %s%s%s: %ld %s: %s%s%s%s",
            method, sep, resource, status, err->code, s3_error_text (err),
            err->request_id[0] ? " (request id " : "",
            err->request_id,
            err->request_id[0] ? ")" : "");
  return buf;
}
