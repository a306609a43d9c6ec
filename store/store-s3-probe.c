/* SPDX-License-Identifier: MIT
 *
 * The probe of store-s3-probe.h: with one object of its own, is a PUT
 * with If-None-Match: * refused when the object exists, a PUT with
 * If-Match of a wrong ETag refused, and a DELETE with a wrong ETag
 * refused?  A refusal is a 412, which s3_http_request reports as EAGAIN
 * without an error.  The object is removed at the end, whatever the
 * answers.
 */

#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include <nbdkit-plugin.h>

#include "s3-http.h"
#include "store-s3-probe.h"

#define WRONG_ETAG "00000000000000000000000000000000"

/* Send METHOD to KEY with the condition given.  1 if the server refused
 * it (412), 0 if it did it, -1 after nbdkit_error.
 */
static int
refused (struct s3_http *h, const char *method, const char *key,
         const char *if_match, bool if_none_match)
{
  static const char body[] = "nbds3 probe: conditional writes\n";
  struct s3_http_request req = {
    .method = method, .key = key, .missing_ok = true,
    .if_match = if_match, .if_none_match = if_none_match,
  };
  struct s3_http_response resp;
  int r;

  if (method[0] == 'P') {
    req.body = body;
    req.body_len = sizeof body - 1;
  }
  r = s3_http_request (h, &req, &resp);
  free (resp.body);
  if (r == 0)
    return 0;
  return errno == EAGAIN ? 1 : -1;
}

static void
report (const char *what, int r)
{
  nbdkit_debug ("s3: probe: %s: %s", what,
                r == 1 ? "refused (412), as it must be" : "NOT refused");
}

int
s3_probe_conditional (struct s3_http *h, const char *key)
{
  int none_match, match, del, r;

  if (refused (h, "PUT", key, NULL, false) == -1)
    return -1;
  none_match = refused (h, "PUT", key, NULL, true);
  match = none_match == -1 ? -1 : refused (h, "PUT", key, WRONG_ETAG, false);
  del = match == -1 ? -1 : refused (h, "DELETE", key, WRONG_ETAG, false);
  r = refused (h, "DELETE", key, NULL, false);  /* clean up */
  if (none_match == -1 || match == -1 || del == -1 || r == -1)
    return -1;
  report ("PUT with If-None-Match: * of an existing object", none_match);
  report ("PUT with If-Match of a wrong ETag", match);
  report ("DELETE with If-Match of a wrong ETag", del);
  return none_match == 1 && match == 1;
}
