/* SPDX-License-Identifier: MIT
 *
 * Unit tests of the S3 client's error meanings (s3-error.c), targets
 * (s3-url.c), HTTP layer (s3-http.c) and credentials resolution
 * (s3-credentials.c): the one outcome-to-errno mapping, table-driven, and
 * TLS failures; backoff growth and cap; the explanations of S3 error codes
 * and the one-line descriptions of failed requests; URL, Host and
 * canonical path for path-style and virtual-hosted addressing with keys
 * that need encoding; the retry loop's deadline and cancel against a
 * closed loopback port (no server); credentials from the environment and
 * a temporary shared credentials file.  Each test runs in its own process
 * (Check's fork mode), and the credentials fixture clears the AWS_*
 * variables.
 */

#include <config.h>

#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "check_suites.h"
#include "nbdkit-stubs.h"
#include "s3-credentials.h"
#include "s3-error.h"
#include "s3-http.h"
#include "s3-url.h"

/* ---- s3_error_classify, s3_error_is_tls ---- */

static const struct {
  int curl_code;
  long status;
  const char *code;
  int err;
  bool retry;
} outcomes[] = {
  { CURLE_OK, 200, NULL, 0, false },
  { CURLE_OK, 204, "", 0, false },
  { CURLE_OK, 206, NULL, 0, false },
  { CURLE_OK, 404, "NoSuchKey", ENOENT, false },
  { CURLE_OK, 404, "NoSuchBucket", EIO, false },
  { CURLE_OK, 404, NULL, EIO, false },          /* a proxy's 404 */
  { CURLE_OK, 404, "", EIO, false },
  { CURLE_OK, 403, "SignatureDoesNotMatch", EIO, false },
  { CURLE_OK, 403, "InvalidAccessKeyId", EIO, false },
  { CURLE_OK, 403, "AccessDenied", EIO, false },
  { CURLE_OK, 403, "QuotaExceeded", ENOSPC, false },
  { CURLE_OK, 400, "EntityTooLarge", ENOSPC, false },
  { CURLE_OK, 400, "RequestTimeout", EIO, true },
  { CURLE_OK, 400, "InvalidArgument", EIO, false },
  { CURLE_OK, 400, "ExpiredToken", EIO, false },
  { CURLE_OK, 301, "PermanentRedirect", EIO, false },
  { CURLE_OK, 307, NULL, EIO, false },
  { CURLE_OK, 409, "OperationAborted", EIO, false },
  { CURLE_OK, 412, "PreconditionFailed", EAGAIN, false },
  { CURLE_OK, 412, NULL, EAGAIN, false },
  { CURLE_OK, 429, NULL, EIO, true },
  { CURLE_OK, 500, "InternalError", EIO, true },
  { CURLE_OK, 500, NULL, EIO, true },
  { CURLE_OK, 501, "NotImplemented", EIO, false },
  { CURLE_OK, 502, NULL, EIO, true },
  { CURLE_OK, 503, "SlowDown", EIO, true },
  { CURLE_OK, 503, "ServiceUnavailable", EIO, true },
  { CURLE_OK, 504, NULL, EIO, true },
  { CURLE_OK, 0, NULL, EIO, false },
  { CURLE_COULDNT_CONNECT, 0, NULL, EIO, true },
  { CURLE_COULDNT_RESOLVE_HOST, 0, NULL, EIO, true },
  { CURLE_OPERATION_TIMEDOUT, 0, NULL, EIO, true },
  { CURLE_SEND_ERROR, 0, NULL, EIO, true },
  { CURLE_RECV_ERROR, 0, NULL, EIO, true },
  { CURLE_GOT_NOTHING, 0, NULL, EIO, true },
  { CURLE_PARTIAL_FILE, 200, NULL, EIO, true }, /* a short 200 body */
  { CURLE_SSL_CONNECT_ERROR, 0, NULL, EIO, true },
  { CURLE_PEER_FAILED_VERIFICATION, 0, NULL, EIO, false },
  { CURLE_SSL_CACERT_BADFILE, 0, NULL, EIO, false },
  { CURLE_WRITE_ERROR, 200, NULL, EIO, false }, /* body too long */
  { CURLE_OUT_OF_MEMORY, 0, NULL, ENOMEM, false },
  { CURLE_ABORTED_BY_CALLBACK, 0, NULL, ESHUTDOWN, false },
  { CURLE_URL_MALFORMAT, 0, NULL, EIO, false },
};

START_TEST (test_classify)
{
  bool retry = !outcomes[_i].retry;
  int err = s3_error_classify (outcomes[_i].curl_code, outcomes[_i].status,
                               outcomes[_i].code, &retry);

  ck_assert_msg (err == outcomes[_i].err && retry == outcomes[_i].retry,
                 "curl %d, status %ld, code %s: got errno %d retry %d, "
                 "expected errno %d retry %d", outcomes[_i].curl_code,
                 outcomes[_i].status,
                 outcomes[_i].code ? outcomes[_i].code : "(null)",
                 err, retry, outcomes[_i].err, outcomes[_i].retry);
}
END_TEST

START_TEST (test_is_tls)
{
  ck_assert (s3_error_is_tls (CURLE_PEER_FAILED_VERIFICATION));
  ck_assert (s3_error_is_tls (CURLE_SSL_CACERT_BADFILE));
  ck_assert (!s3_error_is_tls (CURLE_COULDNT_CONNECT));
  ck_assert (!s3_error_is_tls (CURLE_OK));
}
END_TEST

START_TEST (test_refused_token)
{
  ck_assert (s3_error_is_refused_token (400, "ExpiredToken", false));
  ck_assert (s3_error_is_refused_token (403, "InvalidToken", true));
  ck_assert (s3_error_is_refused_token (400, "TokenRefreshRequired", true));
  /* radosgw's answer to an expired STS session: only with a token. */
  ck_assert (s3_error_is_refused_token (403, "InvalidAccessKeyId", true));
  ck_assert (!s3_error_is_refused_token (403, "InvalidAccessKeyId", false));
  ck_assert (!s3_error_is_refused_token (403, "AccessDenied", true));
  ck_assert (!s3_error_is_refused_token (500, "ExpiredToken", true));
  ck_assert (!s3_error_is_refused_token (400, "", true));
}
END_TEST

/* ---- s3_error_backoff_ms ---- */

START_TEST (test_backoff)
{
  unsigned prev_max = 0;

  for (unsigned attempt = 1; attempt <= 40; ++attempt) {
    unsigned lo = s3_error_backoff_ms (attempt, 0);
    unsigned hi = s3_error_backoff_ms (attempt, UINT32_MAX);
    unsigned max = S3_ERROR_BACKOFF_BASE_MS;

    for (unsigned i = 1; i < attempt && max < S3_ERROR_BACKOFF_CAP_MS; ++i)
      max *= 2;
    if (max > S3_ERROR_BACKOFF_CAP_MS)
      max = S3_ERROR_BACKOFF_CAP_MS;
    ck_assert_uint_eq (lo, max / 2);
    ck_assert_uint_le (hi, max);
    ck_assert_uint_ge (hi, max / 2);
    ck_assert_uint_ge (max, prev_max);          /* grows ... */
    ck_assert_uint_le (max, S3_ERROR_BACKOFF_CAP_MS);    /* ... to the cap */
    prev_max = max;
    for (uint32_t r = 1; r < 4000000000u; r = r * 7 + 13) {
      unsigned ms = s3_error_backoff_ms (attempt, r);
      ck_assert_uint_ge (ms, max / 2);
      ck_assert_uint_le (ms, max);
    }
  }
  ck_assert_uint_eq (s3_error_backoff_ms (1, 0), S3_ERROR_BACKOFF_BASE_MS / 2);
  ck_assert_uint_eq (s3_error_backoff_ms (2, 0), S3_ERROR_BACKOFF_BASE_MS);
  ck_assert_uint_eq (s3_error_backoff_ms (3, 0), S3_ERROR_BACKOFF_BASE_MS * 2);
  ck_assert_uint_eq (s3_error_backoff_ms (30, 0), S3_ERROR_BACKOFF_CAP_MS / 2);
  /* Jitter: different draws give different waits. */
  ck_assert_uint_ne (s3_error_backoff_ms (5, 1), s3_error_backoff_ms (5, 999));
}
END_TEST

/* ---- s3_error_explain, s3_error_text, s3_error_describe ---- */

START_TEST (test_explain)
{
  static const struct {
    const char *code, *needle;
  } cases[] = {
    { "NoSuchBucket", "bucket=" },
    { "SignatureDoesNotMatch", "secret-key=" },
    { "InvalidAccessKeyId", "access-key=" },
    { "AccessDenied", "s3:DeleteObject" },
    { "XAmzContentSHA256Mismatch", "x-amz-content-sha256" },
    { "RequestTimeTooSkewed", "the clock of this machine is off" },
    { "SlowDown", "connections=" },
    { "RequestTimeout", "request body" },
    { "InternalError", "try again" },
    { "NoSuchKey", "does not exist" },
    { "ExpiredToken", "session-token=" },
    { "InvalidToken", "session-token=" },
    { "PreconditionFailed", "another writer" },
    { "AuthorizationHeaderMalformed", "region=" },
    { "PermanentRedirect", "endpoint=" },
    { "TemporaryRedirect", "region=" },
    { "InvalidBucketName", "bucket=" },
    { "ServiceUnavailable", "try again" },
    { "QuotaExceeded", "quota" },
    { "AccountProblem", "S3 provider" },
    { "BadDigest", "Content-MD5" },
    { "ConditionalRequestConflict", "try again" },
    { "EntityTooLarge", "page-size=" },
    { "IncompleteBody", "proxy" },
    { "InvalidArgument", "endpoint=" },
    { "InvalidObjectState", "archived" },
    { "InvalidRange", "range" },
    { "KeyTooLongError", "export name" },
    { "MethodNotAllowed", "endpoint=" },
    { "MissingContentLength", "Content-Length" },
    { "MissingSecurityHeader", "session-token=" },
    { "NotImplemented", "S3-compatible" },
    { "OperationAborted", "try again" },
    { "TokenRefreshRequired", "session-token=" },
    { "UserSuspended", "suspended" },
  };

  /* Every entry is found: this also checks the table's sort order. */
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    const char *t = s3_error_explain (cases[i].code);

    ck_assert_msg (t != NULL, "%s not explained", cases[i].code);
    ck_assert_msg (strstr (t, cases[i].needle) != NULL,
                   "%s: \"%s\" lacks \"%s\"", cases[i].code, t,
                   cases[i].needle);
  }
  ck_assert_str_eq (s3_error_explain ("NoSuchBucket"),
                    "the bucket does not exist: create it or fix bucket=");
  ck_assert_ptr_null (s3_error_explain ("SomethingNew"));
  ck_assert_ptr_null (s3_error_explain ("nosuchkey"));
  ck_assert_ptr_null (s3_error_explain (""));
  ck_assert_ptr_null (s3_error_explain (NULL));
}
END_TEST

START_TEST (test_text)
{
  struct s3_error err = {
    .code = "NoSuchBucket", .message = "The bucket is gone.",
  };

  ck_assert_str_eq (s3_error_text (&err), "The bucket is gone.");
  err.message[0] = '\0';                /* radosgw: the explanation */
  ck_assert_str_eq (s3_error_text (&err),
                    "the bucket does not exist: create it or fix bucket=");
  err = (struct s3_error) { .code = "Weird" };
  ck_assert_str_eq (s3_error_text (&err), "no message");
}
END_TEST

START_TEST (test_describe)
{
  struct s3_error err = {
    .code = "SignatureDoesNotMatch",
    .message = "The request signature we calculated does not match the "
    "signature you provided.",
    .request_id = "ABC123",
  };
  char buf[S3_ERROR_DESCRIBE_MAX];
  char small[16];

  /* With a Message. */
  ck_assert_str_eq (s3_error_describe ("GET", "exports/x/page-00000001.bin",
                                       403, &err, buf, sizeof buf),
                    "S3 GET exports/x/page-00000001.bin: 403 "
                    "SignatureDoesNotMatch: The request signature we "
                    "calculated does not match the signature you provided. "
                    "(request id ABC123)");

  /* radosgw: no Message, so the explanation. */
  err = (struct s3_error) {
    .code = "NoSuchBucket",
    .request_id = "tx00000a1b2c3d4e5f60718-0065a1b2c3-1234-default",
  };
  ck_assert_str_eq (s3_error_describe ("GET", "bucket b", 404, &err,
                                       buf, sizeof buf),
                    "S3 GET bucket b: 404 NoSuchBucket: the bucket does not "
                    "exist: create it or fix bucket= (request id "
                    "tx00000a1b2c3d4e5f60718-0065a1b2c3-1234-default)");

  /* Unknown code, no Message, no RequestId, no resource. */
  err = (struct s3_error) { .code = "Weird" };
  ck_assert_str_eq (s3_error_describe ("PUT", NULL, 400, &err,
                                       buf, sizeof buf),
                    "S3 PUT: 400 Weird: no message");
  ck_assert_str_eq (s3_error_describe ("PUT", "", 400, &err,
                                       buf, sizeof buf),
                    "S3 PUT: 400 Weird: no message");

  /* No S3 error in the body (HTML from a proxy, empty body): the cleared
   * error s3_xml_parse_error leaves, or none.
   */
  err = (struct s3_error) { .code = "" };
  ck_assert_str_eq (s3_error_describe ("DELETE", "exports/x/nbds3.meta",
                                       502, &err, buf, sizeof buf),
                    "S3 DELETE exports/x/nbds3.meta: 502 Bad Gateway "
                    "(no S3 error in the response)");
  ck_assert_str_eq (s3_error_describe ("HEAD", "k", 599, NULL,
                                       buf, sizeof buf),
                    "S3 HEAD k: 599 (no S3 error in the response)");

  /* A small buffer is cut and terminated; a zero-length one untouched. */
  err = (struct s3_error) {
    .code = "NoSuchKey", .message = "The specified key does not exist.",
    .request_id = "4442587FB7D0A2F9",
  };
  ck_assert_str_eq (s3_error_describe ("GET", "k", 404, &err,
                                       small, sizeof small),
                    "S3 GET k: 404 N");
  small[0] = '#';
  s3_error_describe ("GET", "k", 404, &err, small, 0);
  ck_assert_int_eq (small[0], '#');
}
END_TEST

/* ---- s3_url_target ---- */

static const struct {
  const char *endpoint, *bucket;
  bool virtual_hosted;
  const char *key;
  const char *url, *host, *path;
} targets[] = {
  { "http://127.0.0.1:7480", "bkt", false, "exports/a/page-00000001.bin",
    "http://127.0.0.1:7480/bkt/exports/a/page-00000001.bin",
    "127.0.0.1:7480", "/bkt/exports/a/page-00000001.bin" },
  { "http://127.0.0.1:7480/", "bkt", false, NULL,
    "http://127.0.0.1:7480/bkt", "127.0.0.1:7480", "/bkt" },
  /* Encoded once, per segment; nothing normalised. */
  { "http://s3.local:9000", "bkt", false, "exports/my disk+1/nbds3.meta",
    "http://s3.local:9000/bkt/exports/my%20disk%2B1/nbds3.meta",
    "s3.local:9000", "/bkt/exports/my%20disk%2B1/nbds3.meta" },
  { "http://s3.local:9000", "bkt", false, "exports/a~b_c-d.e/x%y",
    "http://s3.local:9000/bkt/exports/a~b_c-d.e/x%25y",
    "s3.local:9000", "/bkt/exports/a~b_c-d.e/x%25y" },
  { "http://s3.local:9000", "bkt", false, "exports/..//caf\xc3\xa9",
    "http://s3.local:9000/bkt/exports/..//caf%C3%A9",
    "s3.local:9000", "/bkt/exports/..//caf%C3%A9" },
  /* The Host header leaves out the default port. */
  { "http://s3.local:80", "bkt", false, "k",
    "http://s3.local:80/bkt/k", "s3.local", "/bkt/k" },
  { "https://s3.local:443", "bkt", false, "k",
    "https://s3.local:443/bkt/k", "s3.local", "/bkt/k" },
  { "https://s3.local:8443", "bkt", false, "k",
    "https://s3.local:8443/bkt/k", "s3.local:8443", "/bkt/k" },
  { "http://[::1]:7480", "bkt", false, "k",
    "http://[::1]:7480/bkt/k", "[::1]:7480", "/bkt/k" },
  /* Virtual-hosted: the bucket moves into the host name. */
  { "https://s3.eu-west-1.amazonaws.com", "my-bucket", true,
    "exports/my disk/page-0000000a.bin",
    "https://my-bucket.s3.eu-west-1.amazonaws.com/exports/my%20disk/"
    "page-0000000a.bin",
    "my-bucket.s3.eu-west-1.amazonaws.com",
    "/exports/my%20disk/page-0000000a.bin" },
  { "https://s3.us-east-1.amazonaws.com/", "my-bucket", true, NULL,
    "https://my-bucket.s3.us-east-1.amazonaws.com/",
    "my-bucket.s3.us-east-1.amazonaws.com", "/" },
  { "http://minio.local:9000", "b.c", true, "k",
    "http://b.c.minio.local:9000/k", "b.c.minio.local:9000", "/k" },
};

START_TEST (test_target)
{
  struct s3_url_target t;

  ck_assert_int_eq (s3_url_target (targets[_i].endpoint, targets[_i].bucket,
                                   targets[_i].virtual_hosted,
                                   targets[_i].key, &t), 0);
  ck_assert_str_eq (t.url, targets[_i].url);
  ck_assert_str_eq (t.host, targets[_i].host);
  ck_assert_str_eq (t.path, targets[_i].path);
  s3_url_target_free (&t);
  ck_assert_ptr_null (t.url);
}
END_TEST

START_TEST (test_target_bad)
{
  static const char *const endpoints[] = {
    "s3.local:9000", "ftp://s3.local", "http://", "http:///bkt",
    "http://s3.local/prefix", "http://user@s3.local", "http://s3.local?x",
    "HTTP//s3.local",
    /* Control characters would end or split the Host header line. */
    "http://s3.local\r", "http://s3.local\r\nX-Injected:1", "http://s3\x7f",
    "https://s3.local:443\n/",
  };
  struct s3_url_target t;
  char msg[256];

  for (size_t i = 0; i < sizeof endpoints / sizeof endpoints[0]; ++i) {
    stub_reset_errors ();
    ck_assert_msg (s3_url_target (endpoints[i], "bkt", false, "k", &t) == -1,
                   "%s accepted", endpoints[i]);
    ck_assert_ptr_nonnull (strstr (stub_last_error (msg, sizeof msg),
                                   "endpoint="));
  }
  /* Names that cannot be part of a host name. */
  ck_assert_int_eq (s3_url_target ("http://h", "Upper", true, "k", &t), -1);
  ck_assert_ptr_nonnull (strstr (stub_last_error (msg, sizeof msg),
                                 "addressing=path"));
  ck_assert_int_eq (s3_url_target ("http://h", "a_b", true, "k", &t), -1);
  ck_assert_int_eq (s3_url_target ("http://h", "a..b", true, "k", &t), -1);
  ck_assert_int_eq (s3_url_target ("http://h", "-ab", true, "k", &t), -1);
  /* ... are fine with path-style, encoded. */
  ck_assert_int_eq (s3_url_target ("http://h", "a_B", false, "k", &t), 0);
  ck_assert_str_eq (t.path, "/a_B/k");
  s3_url_target_free (&t);
}
END_TEST

/* ---- The retry loop against a closed loopback port ---- */

/* A loopback port nothing listens on: bind one, then close it. */
static int
closed_port (void)
{
  struct sockaddr_in sa = { .sin_family = AF_INET };
  socklen_t len = sizeof sa;
  int fd = socket (AF_INET, SOCK_STREAM, 0), port;

  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  ck_assert_int_ge (fd, 0);
  ck_assert_int_eq (bind (fd, (struct sockaddr *) &sa, sizeof sa), 0);
  ck_assert_int_eq (getsockname (fd, (struct sockaddr *) &sa, &len), 0);
  port = ntohs (sa.sin_port);
  close (fd);
  return port;
}

static struct s3_http *
closed_client (unsigned retry_deadline)
{
  char endpoint[64];
  struct s3_config cfg = {
    .endpoint = endpoint, .bucket = (char *) "bkt",
    .region = (char *) "us-east-1", .access_key = (char *) "AKID",
    .secret_key = (char *) "secret", .tls_verify = true,
    .connect_timeout = 2, .request_timeout = 2,
    .retry_deadline = retry_deadline, .connections = 2,
  };
  struct s3_http *h;

  snprintf (endpoint, sizeof endpoint, "http://127.0.0.1:%d", closed_port ());
  ck_assert_int_eq (s3_http_global_init (), 0);
  h = s3_http_new (&cfg);
  ck_assert_ptr_nonnull (h);
  return h;
}

static double
now_s (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

START_TEST (test_retry_deadline)
{
  struct s3_http *h = closed_client (2);
  char page[16], msg[1024];
  struct s3_http_request req = {
    .method = "GET", .key = "exports/a/page-00000000.bin",
    .resp_buf = page, .resp_len = sizeof page, .missing_ok = true,
  };
  struct s3_http_response resp;
  double t0 = now_s (), took;

  stub_reset_errors ();
  errno = 0;
  ck_assert_int_eq (s3_http_request (h, &req, &resp), -1);
  took = now_s () - t0;
  ck_assert_int_eq (errno, EIO);
  ck_assert_int_eq (resp.curl_code, CURLE_COULDNT_CONNECT);
  ck_assert_uint_ge (resp.attempts, 3);          /* it retried ... */
  ck_assert_double_lt (took, 2.5);               /* ... within the deadline */
  ck_assert_uint_eq (stub_error_count (), 1);    /* reported once */
  stub_last_error (msg, sizeof msg);
  ck_assert_ptr_nonnull (strstr (msg, "S3 GET exports/a/page-00000000.bin"));
  ck_assert_ptr_nonnull (strstr (msg, "attempts"));

  /* A quiet request with a budget of one attempt reports nothing. */
  {
    const struct s3_http_budget once = { .max_attempts = 1 };
    req.quiet = true;
    req.budget = &once;
    stub_reset_errors ();
    ck_assert_int_eq (s3_http_request (h, &req, &resp), -1);
    ck_assert_uint_eq (resp.attempts, 1);
    ck_assert_uint_eq (stub_error_count (), 0);
    ck_assert_ptr_nonnull (strstr (s3_http_describe (h, &req, &resp, msg,
                                                     sizeof msg),
                                   "connect"));
  }
  s3_http_free (h);
  s3_http_global_cleanup ();
}
END_TEST

static void *
cancel_later (void *h)
{
  usleep (300 * 1000);
  s3_http_cancel (h);
  return NULL;
}

START_TEST (test_cancel)
{
  struct s3_http *h = closed_client (60);
  static const char body[] = "page";
  struct s3_http_request req = {
    .method = "PUT", .key = "exports/a/page-00000001.bin",
    .body = body, .body_len = sizeof body,
  };
  struct s3_http_response resp;
  char msg[1024];
  pthread_t thread;
  double t0 = now_s (), took;

  ck_assert_int_eq (pthread_create (&thread, NULL, cancel_later, h), 0);
  stub_reset_errors ();
  ck_assert_int_eq (s3_http_request (h, &req, &resp), -1);
  took = now_s () - t0;
  pthread_join (thread, NULL);
  ck_assert_int_eq (errno, ESHUTDOWN);
  ck_assert_double_lt (took, 1.5);       /* not the 60 s deadline */
  ck_assert_ptr_nonnull (strstr (stub_last_error (msg, sizeof msg),
                                 "shutting down"));
  /* Later requests fail at once too. */
  t0 = now_s ();
  ck_assert_int_eq (s3_http_request (h, &req, &resp), -1);
  ck_assert_int_eq (errno, ESHUTDOWN);
  ck_assert_double_lt (now_s () - t0, 0.5);
  s3_http_free (h);
  s3_http_global_cleanup ();
}
END_TEST

/* ---- s3_credentials_resolve ---- */

static char credtmp[64];

static void
creds_setup (void)
{
  static const char *const vars[] = {
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_SHARED_CREDENTIALS_FILE", "AWS_PROFILE", "AWS_REGION",
    "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
  };

  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; ++i)
    unsetenv (vars[i]);
  snprintf (credtmp, sizeof credtmp, "/tmp/check-s3-XXXXXX");
  ck_assert_ptr_nonnull (mkdtemp (credtmp));
  setenv ("HOME", credtmp, 1);          /* no ~/.aws/credentials */
  setenv ("AWS_EC2_METADATA_DISABLED", "true", 1);
  stub_reset_errors ();
}

static void
creds_teardown (void)
{
  char cmd[128];

  snprintf (cmd, sizeof cmd, "rm -rf '%s'", credtmp);
  if (system (cmd) != 0)
    fprintf (stderr, "cannot remove %s\n", credtmp);
}

/* Write TEXT to the file REL under credtmp; returns its path. */
static const char *
write_file (const char *rel, const char *text)
{
  static char path[256];
  FILE *fp;

  snprintf (path, sizeof path, "%s/%s", credtmp, rel);
  fp = fopen (path, "w");
  ck_assert_ptr_nonnull (fp);
  fputs (text, fp);
  fclose (fp);
  return path;
}

/* The credentials C resolved to: ID, SECRET and TOKEN (or NULL). */
static void
check_resolved (const struct s3_config *c, const char *id,
                const char *secret, const char *token)
{
  struct s3_creds_value *v;

  ck_assert_ptr_nonnull (c->creds);
  v = s3_creds_get (c->creds);
  ck_assert_ptr_nonnull (v);
  ck_assert_str_eq (v->access_key, id);
  ck_assert_str_eq (v->secret_key, secret);
  if (token)
    ck_assert_str_eq (v->session_token, token);
  else
    ck_assert_ptr_null (v->session_token);
  ck_assert_int_eq (v->expiration, 0);
  s3_creds_value_put (v);
  /* The keys moved into the cache. */
  ck_assert_ptr_null (c->access_key);
  ck_assert_ptr_null (c->secret_key);
}

static const char credentials_file[] =
  "# shared credentials\n"
  "[default]\n"
  "aws_access_key_id = AKIDDEFAULT\n"
  "aws_secret_access_key=secretdefault\n"
  "\n"
  "; another profile, CRLF line ends\r\n"
  "[  other ]\r\n"
  "  AWS_ACCESS_KEY_ID = AKIDOTHER  \r\n"
  "aws_secret_access_key = secret/other+x=\r\n"
  "aws_session_token = tokenother\r\n"
  "[halfway]\n"
  "aws_access_key_id = AKIDHALF\n";

START_TEST (test_creds_config)
{
  struct s3_config c = { 0 };

  c.access_key = strdup ("AKIDCONFIG");
  c.secret_key = strdup ("secretconfig");
  setenv ("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
  setenv ("AWS_SECRET_ACCESS_KEY", "secretenv", 1);
  setenv ("AWS_SESSION_TOKEN", "tokenenv", 1);
  ck_assert_int_eq (s3_credentials_resolve (&c), 0);
  /* The session token is never mixed with other keys. */
  check_resolved (&c, "AKIDCONFIG", "secretconfig", NULL);
  s3_config_free (&c);
  ck_assert_ptr_null (c.creds);
}
END_TEST

START_TEST (test_creds_half)
{
  struct s3_config c = { 0 };
  char msg[512];

  c.access_key = strdup ("AKIDCONFIG");
  setenv ("AWS_SECRET_ACCESS_KEY", "secretenv", 1);
  ck_assert_int_eq (s3_credentials_resolve (&c), -1);
  ck_assert_ptr_nonnull (strstr (stub_last_error (msg, sizeof msg),
                                 "access-key= was given without "
                                 "secret-key="));
  s3_config_free (&c);

  c.secret_key = strdup ("secret");
  ck_assert_int_eq (s3_credentials_resolve (&c), -1);
  ck_assert_ptr_nonnull (strstr (stub_last_error (msg, sizeof msg),
                                 "secret-key= was given without"));
  s3_config_free (&c);

  c.session_token = strdup ("token");
  ck_assert_int_eq (s3_credentials_resolve (&c), -1);
  ck_assert_ptr_nonnull (strstr (stub_last_error (msg, sizeof msg),
                                 "session-token="));
  s3_config_free (&c);
}
END_TEST

START_TEST (test_creds_env)
{
  struct s3_config c = { 0 };

  setenv ("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
  setenv ("AWS_SECRET_ACCESS_KEY", "secretenv", 1);
  setenv ("AWS_SESSION_TOKEN", "tokenenv", 1);
  setenv ("AWS_REGION", "us-west-2", 1);
  setenv ("AWS_DEFAULT_REGION", "eu-central-1", 1);
  /* The environment comes before the file. */
  setenv ("AWS_SHARED_CREDENTIALS_FILE",
          write_file ("credentials", credentials_file), 1);
  ck_assert_int_eq (s3_credentials_resolve (&c), 0);
  check_resolved (&c, "AKIDENV", "secretenv", "tokenenv");
  s3_config_free (&c);
}
END_TEST

START_TEST (test_creds_file)
{
  struct s3_config c = { 0 };
  char rel[128];

  /* Half a pair in the environment is ignored. */
  setenv ("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
  setenv ("AWS_SHARED_CREDENTIALS_FILE",
          write_file ("credentials", credentials_file), 1);
  ck_assert_int_eq (s3_credentials_resolve (&c), 0);
  check_resolved (&c, "AKIDDEFAULT", "secretdefault", NULL);
  s3_config_free (&c);

  /* Another profile, through a relative path. */
  unsetenv ("AWS_ACCESS_KEY_ID");
  setenv ("AWS_PROFILE", "other", 1);
  ck_assert_int_eq (chdir ("/tmp"), 0);
  snprintf (rel, sizeof rel, "%s/credentials", credtmp + 5);
  setenv ("AWS_SHARED_CREDENTIALS_FILE", rel, 1);
  ck_assert_int_eq (s3_credentials_resolve (&c), 0);
  check_resolved (&c, "AKIDOTHER", "secret/other+x=", "tokenother");
  s3_config_free (&c);
}
END_TEST

START_TEST (test_creds_home)
{
  struct s3_config c = { 0 };
  char dir[128];

  snprintf (dir, sizeof dir, "%s/.aws", credtmp);
  ck_assert_int_eq (mkdir (dir, 0700), 0);
  write_file (".aws/credentials", credentials_file);
  ck_assert_int_eq (s3_credentials_resolve (&c), 0);
  check_resolved (&c, "AKIDDEFAULT", "secretdefault", NULL);
  s3_config_free (&c);
}
END_TEST

START_TEST (test_creds_missing)
{
  struct s3_config c = { 0 };
  char msg[512];

  /* No file at all. */
  ck_assert_int_eq (s3_credentials_resolve (&c), -1);
  stub_last_error (msg, sizeof msg);
  ck_assert_ptr_nonnull (strstr (msg, "no S3 credentials"));
  ck_assert_ptr_nonnull (strstr (msg, "[default]"));
  s3_config_free (&c);

  /* A profile that is not there, and one with half a pair. */
  setenv ("AWS_SHARED_CREDENTIALS_FILE",
          write_file ("credentials", credentials_file), 1);
  setenv ("AWS_PROFILE", "nosuch", 1);
  ck_assert_int_eq (s3_credentials_resolve (&c), -1);
  stub_last_error (msg, sizeof msg);
  ck_assert_ptr_nonnull (strstr (msg, "[nosuch]"));
  s3_config_free (&c);
  setenv ("AWS_PROFILE", "halfway", 1);
  ck_assert_int_eq (s3_credentials_resolve (&c), -1);
  ck_assert_ptr_null (c.creds);
  s3_config_free (&c);

  /* An unreadable file is an error of its own. */
  setenv ("AWS_SHARED_CREDENTIALS_FILE", credtmp, 1);   /* a directory */
  ck_assert_int_eq (s3_credentials_resolve (&c), -1);
  ck_assert_ptr_nonnull (strstr (stub_last_error (msg, sizeof msg),
                                 "cannot read the AWS credentials file"));
  s3_config_free (&c);
}
END_TEST

Suite *
s3_suite (void)
{
  Suite *s = suite_create ("s3");
  TCase *er = tcase_create ("error");
  TCase *url = tcase_create ("url");
  TCase *tc = tcase_create ("http");
  TCase *cr = tcase_create ("credentials");

  tcase_add_loop_test (er, test_classify, 0,
                       sizeof outcomes / sizeof outcomes[0]);
  tcase_add_test (er, test_is_tls);
  tcase_add_test (er, test_refused_token);
  tcase_add_test (er, test_backoff);
  tcase_add_test (er, test_explain);
  tcase_add_test (er, test_text);
  tcase_add_test (er, test_describe);
  suite_add_tcase (s, er);

  tcase_add_loop_test (url, test_target, 0,
                       sizeof targets / sizeof targets[0]);
  tcase_add_test (url, test_target_bad);
  suite_add_tcase (s, url);

  tcase_add_test (tc, test_retry_deadline);
  tcase_add_test (tc, test_cancel);
  tcase_set_timeout (tc, 30);
  suite_add_tcase (s, tc);

  tcase_add_checked_fixture (cr, creds_setup, creds_teardown);
  tcase_add_test (cr, test_creds_config);
  tcase_add_test (cr, test_creds_half);
  tcase_add_test (cr, test_creds_env);
  tcase_add_test (cr, test_creds_file);
  tcase_add_test (cr, test_creds_home);
  tcase_add_test (cr, test_creds_missing);
  suite_add_tcase (s, cr);
  return s;
}
