/* SPDX-License-Identifier: MIT
 *
 * Where the S3 credentials, region and endpoint come from when the
 * configuration does not give them (s3-credentials.c).
 */

#ifndef NBDS3_S3_CREDENTIALS_H
#define NBDS3_S3_CREDENTIALS_H

#include "s3-config.h"

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
extern int s3_credentials_resolve (struct s3_config *c);

#endif /* NBDS3_S3_CREDENTIALS_H */
