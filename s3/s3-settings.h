/* SPDX-License-Identifier: MIT
 *
 * Where the S3 client's settings come from when the config keys do not
 * give them, as the AWS CLI resolves them (s3-settings.c), and whether
 * the settings nbds3 adds (prefix, SSE, storage class) are valid.
 */

#ifndef NBDS3_S3_SETTINGS_H
#define NBDS3_S3_SETTINGS_H

#include <stdbool.h>

#include "s3-config.h"

/* Complete and check C before s3_credentials_resolve, in this order of
 * sources for each setting:
 *   region:     region=, AWS_REGION, AWS_DEFAULT_REGION, the profile's
 *               region, us-east-1 (C->region_given says region= was set);
 *   endpoint:   endpoint=, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the
 *               profile's s3.endpoint_url, then endpoint_url, else AWS;
 *   addressing: addressing= (C->addressing_given), else the profile's
 *               s3.addressing_style;
 *   CA bundle:  ca-file=, AWS_CA_BUNDLE, the profile's ca_bundle.
 * The profile is aws-profile.h's (AWS_PROFILE, else "default").  Also
 * checks prefix=, sse=, sse-kms-key-id= and storage-class=.  0, or -1
 * after nbdkit_error.
 */
extern int s3_settings_resolve (struct s3_config *c);

/* Whether PREFIX is a valid prefix= value: 1-512 printable ASCII bytes,
 * no leading '/', no "//", no "." or ".." segment.  A trailing '/' is
 * allowed (s3_settings_resolve removes it).
 */
extern bool s3_settings_prefix_valid (const char *prefix);

/* Whether ENDPOINT (NULL: none given) is AWS's own S3 endpoint form,
 * https://s3.REGION.amazonaws.com or https://s3.amazonaws.com, the only
 * one where a redirect to the bucket's region may be followed.
 */
extern bool s3_settings_endpoint_is_aws (const char *endpoint);

/* After an answer of STATUS with S3 error CODE, which reported the
 * bucket's region as HEADER_REGION (x-amz-bucket-region) or BODY_REGION
 * (the Error body's Region; either may be NULL or ""): the region S3
 * reported, if the answer says the bucket lives in another region than
 * C's (a 301, or a 400 AuthorizationHeaderMalformed), else NULL.  A
 * region that is not 1-32 of [a-z0-9-] is no region.
 */
extern const char *s3_settings_reported_region (const struct s3_config *c,
                                                long status,
                                                const char *code,
                                                const char *header_region,
                                                const char *body_region);

/* Whether a client of C may follow a redirect to REGION (the result of
 * s3_settings_reported_region): only when region= was not given and the
 * endpoint is AWS's own form (it is then rebuilt for REGION; a host
 * named in a response is never used).
 */
extern bool s3_settings_may_follow (const struct s3_config *c,
                                    const char *region);

#endif /* NBDS3_S3_SETTINGS_H */
