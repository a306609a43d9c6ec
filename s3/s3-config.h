/* SPDX-License-Identifier: MIT
 *
 * The S3 client's configuration, one struct all the way: the config keys
 * fill it (plugin/options.c), the credential chain completes it
 * (s3-credentials.c), and the HTTP client keeps its own copy of it
 * (s3-http.c).  Every string is allocated or NULL; s3_config_free wipes
 * the secrets and frees them all.
 */

#ifndef NBDS3_S3_CONFIG_H
#define NBDS3_S3_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

struct s3_creds;

enum s3_addressing {
  S3_ADDRESSING_AUTO,           /* path-style for a custom endpoint,
                                 * virtual-hosted for AWS */
  S3_ADDRESSING_PATH,           /* http://host/BUCKET/KEY */
  S3_ADDRESSING_VIRTUAL,        /* http://BUCKET.host/KEY */
};

enum s3_payload_signing {
  S3_PAYLOAD_AUTO,              /* unsigned over https, signed over http */
  S3_PAYLOAD_SIGNED,            /* x-amz-content-sha256: the body's SHA-256 */
  S3_PAYLOAD_UNSIGNED,          /* x-amz-content-sha256: UNSIGNED-PAYLOAD */
};

struct s3_config {
  char *bucket;
  char *prefix;                 /* NULL, or exports live under
                                 * PREFIX/exports/ (no leading or trailing
                                 * '/') */
  char *region;                 /* NULL until resolved */
  bool region_given;            /* region= was given: a redirect to another
                                 * region is an error, not followed */
  char *endpoint;               /* NULL: https://s3.REGION.amazonaws.com */
  char *access_key, *secret_key;        /* secrets */
  char *session_token;          /* a secret; NULL when there is none */
  struct s3_creds *creds;       /* the credential chain's choice
                                 * (s3-credentials.h), shared by copies;
                                 * NULL: the keys above */
  bool imds_v1;                 /* instance metadata may use IMDSv1 */
  enum s3_addressing addressing;
  bool addressing_given;        /* addressing= was given: the profile's
                                 * s3.addressing_style does not apply */
  enum s3_payload_signing payload_signing;
  bool tls_verify;
  char *ca_file;                /* NULL: the system's CA bundle */
  /* Sent with every PUT of an object (s3-http.c), never with GET, HEAD,
   * DELETE or a listing.  NULL: not sent.
   */
  char *sse;                    /* x-amz-server-side-encryption: "AES256"
                                 * or "aws:kms" */
  char *sse_kms_key_id;         /* ...-aws-kms-key-id, only with aws:kms */
  char *storage_class;          /* x-amz-storage-class */
  uint32_t connect_timeout;     /* seconds, per attempt */
  uint32_t request_timeout;     /* seconds, per attempt */
  uint32_t retry_deadline;      /* seconds: all attempts of one request */
  uint32_t connections;         /* requests in flight, the handle pool */
  /* One writer per export (store/store-s3-lease.c). */
  uint32_t lease_timeout;       /* seconds */
  bool break_lease;             /* take held leases without waiting */
  bool accept_unconditional;    /* write to a server that ignores
                                 * conditional PUTs */
};

/* A deep copy of SRC into DST.  0, or -1 after nbdkit_error (DST then
 * holds nothing to free).
 */
extern int s3_config_copy (struct s3_config *dst,
                           const struct s3_config *src);

/* Wipe the secrets of C, free its strings and set them to NULL. */
extern void s3_config_free (struct s3_config *c);

#endif /* NBDS3_S3_CONFIG_H */
