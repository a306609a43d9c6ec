/* SPDX-License-Identifier: MIT
 *
 * DeleteObjects (s3-delete.c): many keys removed in one request, POST
 * ?delete with an XML body (s3-xml.c) and its Content-MD5, which S3 and
 * radosgw require.  For the nbds3 tool, which removes whole exports.
 */

#ifndef NBDS3_S3_DELETE_H
#define NBDS3_S3_DELETE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "s3-http.h"

/* Keys a DeleteObjects request may name, at most (S3's limit). */
#define S3_DELETE_MAX_KEYS 1000

/* Delete the N keys KEYS (N <= S3_DELETE_MAX_KEYS) with one
 * DeleteObjects request of H, retried as s3_http_request retries, no
 * attempt starting after NOT_AFTER (0: none).  A key that does not exist
 * counts as deleted.  0; or -1 after nbdkit_error naming the first key
 * that failed and why; or -1 with *UNSUPPORTED set and nothing reported
 * when the server has no DeleteObjects (501 NotImplemented, 405 or 400
 * with the usual codes): the caller deletes one key at a time.
 */
extern int s3_delete_objects (struct s3_http *h, const char *const *keys,
                              size_t n, int64_t not_after,
                              bool *unsupported);

#endif /* NBDS3_S3_DELETE_H */
