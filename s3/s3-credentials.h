/* SPDX-License-Identifier: MIT
 *
 * The S3 credentials of nbds3: where they come from (the chain, resolved
 * once in .config_complete by s3-credentials.c) and how temporary ones
 * are renewed while nbdkit serves (the cache, s3-creds-cache.c).  A
 * source (struct s3_creds_source) fetches one set of credentials; the
 * providers live in s3-creds-*.c.  The HTTP client asks the cache for
 * the credentials to sign each attempt with.
 */

#ifndef NBDS3_S3_CREDENTIALS_H
#define NBDS3_S3_CREDENTIALS_H

#include <stdbool.h>
#include <time.h>

#include "s3-config.h"

/* One set of credentials, immutable once made and shared by reference
 * (s3_creds_value_put drops one; the last wipes the secrets).
 */
struct s3_creds_value {
  char *access_key, *secret_key;        /* secrets */
  char *session_token;                  /* a secret, or NULL */
  time_t expiration;                    /* wall clock; 0: never expires */
  time_t obtained;                      /* wall clock, when fetched */
  unsigned refs;                        /* atomic */
};

/* Where credentials come from.  FETCH returns 0 with *OUT a new value
 * (one reference), or -1 after nbdkit_error.  It may be called from any
 * thread, one call at a time.  NAME says which source it is, for debug
 * output and messages ("credential_process of profile [p]"); RENEWABLE
 * is false for static keys (fetching again gives the same ones).
 */
struct s3_creds_source {
  int (*fetch) (struct s3_creds_source *src, struct s3_creds_value **out);
  void (*free) (struct s3_creds_source *src);
  char *name;
  bool renewable;
};

/* A new value holding copies of the strings (TOKEN may be NULL).  NULL
 * after nbdkit_error.
 */
extern struct s3_creds_value *s3_creds_value_new (const char *key_id,
                                                  const char *secret,
                                                  const char *token,
                                                  time_t expiration);
extern void s3_creds_value_put (struct s3_creds_value *v);

/* A new value from TEXT (LEN bytes), a JSON object of credentials:
 * AccessKeyId and SecretAccessKey (required), the session token and an
 * Expiration (optional: without one they never expire).  PROCESS: the
 * credential_process format ("Version": 1, "SessionToken"); else the
 * container and IMDS one ("Token", and "Code" "Success" if present).
 * NULL after nbdkit_error naming WHAT.
 */
extern struct s3_creds_value *
s3_creds_value_from_json (const char *what, const char *text, size_t len,
                          bool process);

/* A source of the fixed keys, named NAME.  NULL after nbdkit_error. */
extern struct s3_creds_source *s3_creds_static (const char *name,
                                                const char *key_id,
                                                const char *secret,
                                                const char *token);
extern void s3_creds_source_free (struct s3_creds_source *src);

/* ---- The cache (s3-creds-cache.c) ---- */

struct s3_creds;

/* A cache over SRC (taken, also on failure), fetching the first
 * credentials now.  One reference.  NULL after nbdkit_error.
 */
extern struct s3_creds *s3_creds_new (struct s3_creds_source *src);
extern struct s3_creds *s3_creds_ref (struct s3_creds *c);
extern void s3_creds_unref (struct s3_creds *c);
extern const char *s3_creds_name (const struct s3_creds *c);
extern bool s3_creds_renewable (const struct s3_creds *c);

/* The credentials to sign with now (one reference: s3_creds_value_put
 * it).  Temporary credentials are renewed from S3_CREDS_MARGIN
 * (min (5 min, half their lifetime)) before they expire, by one caller
 * while the others keep using the current ones.  NULL after
 * nbdkit_error when they have expired and cannot be renewed.  Any
 * thread.
 */
extern struct s3_creds_value *s3_creds_get (struct s3_creds *c);

/* The server refused V as expired or invalid: if V is still current and
 * the source is renewable, the next s3_creds_get fetches new ones.
 * Returns true when signing again may succeed.  Any thread.
 */
extern bool s3_creds_refused (struct s3_creds *c,
                              const struct s3_creds_value *v);

/* The renewal margin for credentials obtained at OBTAINED and expiring
 * at EXPIRATION: min (300, lifetime / 2) seconds.  Pure.
 */
extern time_t s3_creds_margin (time_t obtained, time_t expiration);

/* ---- The chain (s3-credentials.c) ---- */

/* Find C's credentials in the chain (see the man page's CREDENTIALS):
 * config keys, environment, profile role_arn, web identity, the
 * credentials file, credential_process, the config file, container
 * credentials, instance metadata.  Sets C->creds (fetching the first
 * credentials) and clears C's key strings into it.  Keys given in C are
 * used as they are (both or neither: half a pair is an error, and so is
 * a session token without them).  Runs after s3_settings_resolve (the
 * region and endpoint, for STS).  Returns 0, or -1 after nbdkit_error.
 */
extern int s3_credentials_resolve (struct s3_config *c);

#endif /* NBDS3_S3_CREDENTIALS_H */
