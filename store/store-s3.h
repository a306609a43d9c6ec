/* SPDX-License-Identifier: MIT
 *
 * The S3 page store (store-s3.c): export NAME lives under the key prefix
 * exports/NAME/ of one bucket, one object per stored page
 * (page-%08x.bin) plus its metadata (nbds3.meta).  Also the resolution of
 * S3 credentials, region and endpoint from the environment and the shared
 * credentials file (s3-credentials.c).
 */

#ifndef NBDS3_STORE_S3_H
#define NBDS3_STORE_S3_H

#include <stdbool.h>

#include "store.h"

enum s3_addressing {
  S3_ADDRESSING_AUTO,           /* path-style for a custom endpoint,
                                 * virtual-hosted for AWS */
  S3_ADDRESSING_PATH,           /* http://host/BUCKET/KEY */
  S3_ADDRESSING_VIRTUAL,        /* http://BUCKET.host/KEY */
};

struct s3_config {
  const char *bucket, *region;
  const char *endpoint;         /* NULL: https://s3.REGION.amazonaws.com */
  const char *access_key, *secret_key;
  const char *session_token;    /* NULL when there is none */
  enum s3_addressing addressing;
  bool tls_verify;
  const char *ca_file;          /* NULL: the system's CA bundle */
  unsigned connect_timeout, request_timeout, retry_deadline;  /* seconds */
  unsigned connections;         /* requests in flight, the handle pool */
};

/* The S3 store for CFG (copied: the caller may free CFG's strings after
 * the call).  Initialises libcurl and libxml2, so call it before nbdkit
 * starts threads (.get_ready).  Contacts nothing: ready() probes the
 * bucket.  NULL after nbdkit_error.
 */
extern struct store *store_s3_new (const struct s3_config *cfg);

/* Credentials, region and endpoint as the configuration gives them, then
 * completed by s3_credentials_resolve.  Every string is allocated (or
 * NULL); s3_credentials_free wipes the secrets and frees them all.
 */
struct s3_credentials {
  char *access_key, *secret_key, *session_token;
  char *region, *endpoint;
};

/* Fill in what C lacks.  Keys given in C are used as they are (both or
 * neither: half a pair is an error, and so is a session token without
 * them).  Otherwise AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+
 * AWS_SESSION_TOKEN) when both are set, otherwise the profile AWS_PROFILE
 * (or "default") of the shared credentials file AWS_SHARED_CREDENTIALS_FILE
 * (or ~/.aws/credentials): aws_access_key_id, aws_secret_access_key,
 * aws_session_token.  The region, when missing, comes from AWS_REGION,
 * then AWS_DEFAULT_REGION, then "us-east-1"; the endpoint from
 * AWS_ENDPOINT_URL (else it stays NULL: AWS).  Returns 0, or -1 after
 * nbdkit_error (no credentials anywhere, an unreadable file, half a pair).
 */
extern int s3_credentials_resolve (struct s3_credentials *c);

extern void s3_credentials_free (struct s3_credentials *c);

/* OPENSSL_cleanse the string S, then free it.  S may be NULL. */
extern void s3_secret_free (char *s);

#endif /* NBDS3_STORE_S3_H */
