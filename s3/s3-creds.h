/* SPDX-License-Identifier: MIT
 *
 * The credential providers the chain (s3-credentials.c) builds sources
 * from, one file each by reason to change: STS (s3-creds-sts.c), an
 * external command (s3-creds-process.c), the container endpoint and the
 * EC2 instance metadata service (s3-creds-http.c).  Each constructor
 * returns a renewable source (struct s3_creds_source), or NULL after
 * nbdkit_error; none fetches anything until the cache asks.
 */

#ifndef NBDS3_S3_CREDS_H
#define NBDS3_S3_CREDS_H

#include <stdbool.h>

#include "s3-credentials.h"

/* STS: AssumeRole when TOKEN_FILE is NULL (signed with the credentials
 * of the cache BASE, taken), else AssumeRoleWithWebIdentity (BASE NULL).
 */
struct s3_creds_sts {
  char *endpoint;               /* "https://sts.REGION.amazonaws.com" */
  char *region;                 /* for the signature */
  char *role_arn, *session_name;
  char *external_id;            /* or NULL */
  char *token_file;             /* web identity, or NULL */
  unsigned duration;            /* DurationSeconds */
  bool tls_verify;
  char *ca_file;                /* or NULL */
};
extern struct s3_creds_source *s3_creds_sts_new (const char *name,
                                                 struct s3_creds *base,
                                                 const struct s3_creds_sts *p);

/* credential_process: run COMMAND with /bin/sh -c and read its JSON. */
extern struct s3_creds_source *s3_creds_process_new (const char *name,
                                                     const char *command);

/* Container credentials: GET URL, with the Authorization header from
 * AUTH_TOKEN or read from AUTH_FILE on each fetch (either may be NULL).
 */
extern struct s3_creds_source *s3_creds_container_new (const char *url,
                                                       const char *auth_token,
                                                       const char *auth_file);

/* EC2 instance metadata at ENDPOINT ("http://169.254.169.254"): IMDSv2,
 * or IMDSv1 without a session token when V1.
 */
extern struct s3_creds_source *s3_creds_imds_new (const char *endpoint,
                                                  bool v1);

#endif /* NBDS3_S3_CREDS_H */
