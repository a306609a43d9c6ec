/* SPDX-License-Identifier: MIT
 *
 * One profile of the AWS shared config and credentials files, read as
 * botocore reads them (aws-profile.c).  The profile's sections of both
 * files are kept; a lookup tries the credentials file first.
 */

#ifndef NBDS3_AWS_PROFILE_H
#define NBDS3_AWS_PROFILE_H

struct aws_profile;

/* NAME NULL: AWS_PROFILE, else "default".  Reads both files (absent
 * files are fine: an empty profile).  NULL after nbdkit_error for an
 * unreadable or malformed file.
 */
extern struct aws_profile *aws_profile_load (const char *name);

/* The value of KEY: the credentials file's section first, then the
 * config file's; "s3.addressing_style" for a nested key.  NULL if absent.
 */
extern const char *aws_profile_get (const struct aws_profile *p,
                                    const char *key);

extern const char *aws_profile_name (const struct aws_profile *p);

/* Free P; wipes secret values.  P may be NULL. */
extern void aws_profile_free (struct aws_profile *p);

#endif /* NBDS3_AWS_PROFILE_H */
