/* SPDX-License-Identifier: MIT
 *
 * DeleteObjects (s3-delete.h): the request body and its answer are
 * s3-xml.c's, the sending s3-http.c's; this file adds the Content-MD5
 * and decides what the answer means.  A server without the operation is
 * told apart from a failure, so that the caller can fall back to one
 * DELETE per key.
 */

#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include <nbdkit-plugin.h>

#include "cleanup.h"
#include "s3-delete.h"
#include "s3-xml.h"

/* Does RESP say the server has no DeleteObjects? */
static bool
not_implemented (const struct s3_http_response *resp)
{
  const char *code = resp->err.code;

  return resp->curl_code == 0 &&
    (resp->status == 501 || resp->status == 405 ||
     strcmp (code, "NotImplemented") == 0 ||
     strcmp (code, "MethodNotAllowed") == 0 ||
     (resp->status == 400 && strcmp (code, "InvalidRequest") == 0));
}

int
s3_delete_objects (struct s3_http *h, const char *const *keys, size_t n,
                   int64_t not_after, bool *unsupported)
{
  const struct sigv4_pair query[] = { { "delete", "" } };
  unsigned char md5[EVP_MAX_MD_SIZE];
  char md5_b64[32], first_key[1024], msg[S3_HTTP_DESCRIBE_MAX];
  struct s3_http_response resp;
  struct s3_error err;
  CLEANUP_FREE char *body = NULL;
  size_t len, nfailed;
  int r;

  *unsupported = false;
  if (n == 0)
    return 0;
  if ((body = s3_xml_delete_body (keys, n, &len)) == NULL) {
    nbdkit_error ("s3: out of memory");
    errno = ENOMEM;
    return -1;
  }
  if (EVP_Digest (body, len, md5, NULL, EVP_md5 (), NULL) != 1) {
    nbdkit_error ("s3: cannot compute the MD5 of a DeleteObjects request");
    errno = EIO;
    return -1;
  }
  EVP_EncodeBlock ((unsigned char *) md5_b64, md5, 16);

  struct s3_http_request req = {
    .method = "POST", .query = query, .nquery = 1, .body = body,
    .body_len = len, .content_md5 = md5_b64, .quiet = true,
    .not_after = not_after,
  };
  if (s3_http_request (h, &req, &resp) == -1) {
    int e = errno;

    if (not_implemented (&resp)) {
      *unsupported = true;
      nbdkit_debug ("s3: the server has no DeleteObjects (%ld %s): "
                    "deleting one key at a time", resp.status,
                    resp.err.code);
    }
    else
      nbdkit_error ("%s (DeleteObjects of %zu keys, the first %s)",
                    s3_http_describe (h, &req, &resp, msg, sizeof msg), n,
                    keys[0]);
    errno = e;
    return -1;
  }
  r = s3_xml_parse_delete (resp.body, resp.body_len, &nfailed, first_key,
                           sizeof first_key, &err);
  free (resp.body);
  if (r == -1) {
    errno = EIO;
    return -1;
  }
  if (nfailed) {
    nbdkit_error ("S3 DeleteObjects: %zu of %zu keys were not deleted, the "
                  "first %s: %s%s%s", nfailed, n, first_key, err.code,
                  err.message[0] ? ": " : "", err.message);
    errno = EIO;
    return -1;
  }
  return 0;
}
