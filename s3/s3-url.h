/* SPDX-License-Identifier: MIT
 *
 * Where an S3 request goes, for nbds3's S3 client: the URL, the Host
 * header and the encoded canonical path of a request for one key (or the
 * bucket), in path-style or virtual-hosted addressing.  A pure function of
 * its arguments (no I/O, no clock, no state); s3-http.c builds every
 * request's target with it, and checks the endpoint and bucket with it
 * once in s3_http_new.  The percent-encoding itself is SigV4's
 * (sigv4_uri_encode in sigv4.h), as the signature must see the same path.
 */

#ifndef NBDS3_S3_URL_H
#define NBDS3_S3_URL_H

#include <stdbool.h>

/* Where a request for KEY (NULL: the bucket) goes.  The strings are
 * allocated; s3_url_target_free releases them.
 */
struct s3_url_target {
  char *url;                    /* scheme://host/path, without query */
  char *host;                   /* the Host header, as signed */
  char *path;                   /* canonical URI, encoded, as signed */
};

/* Build the target from ENDPOINT ("http[s]://authority[/]"), BUCKET and
 * the addressing style.  0, or -1 after nbdkit_error (a malformed
 * endpoint, or a bucket name unfit for a host name).
 */
extern int s3_url_target (const char *endpoint, const char *bucket,
                          bool virtual_hosted, const char *key,
                          struct s3_url_target *t);
extern void s3_url_target_free (struct s3_url_target *t);

#endif /* NBDS3_S3_URL_H */
