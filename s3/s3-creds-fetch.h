/* SPDX-License-Identifier: MIT
 *
 * What the credential providers read on every fetch (s3-creds-fetch.c):
 * one small HTTP exchange (STS, the container endpoint, the instance
 * metadata service), or a token file (web identity, the container's
 * authorization token).  Not the S3 client's pool or retry loop: a fresh
 * curl handle per call, a short timeout, and the answer's body kept in
 * memory (at most S3_CREDS_FETCH_MAX bytes).
 */

#ifndef NBDS3_S3_CREDS_FETCH_H
#define NBDS3_S3_CREDS_FETCH_H

#include <stdbool.h>
#include <stddef.h>

#define S3_CREDS_FETCH_MAX (64 * 1024)

struct s3_creds_fetch {
  const char *method;           /* "GET", "PUT" or "POST" */
  const char *url;
  const char *const *headers;   /* "Name: value" lines, NULL-terminated,
                                 * or NULL; may hold secrets */
  const char *body;             /* POST/PUT body, or NULL */
  unsigned timeout_s;           /* the whole exchange */
  bool tls_verify;
  const char *ca_file;          /* NULL: the system's */
};

/* Perform F.  Returns 0 with *STATUS the HTTP status and *BODY (wiped
 * and freed by the caller with text_secret_free: it may hold secrets)
 * the NUL-terminated body of *LEN bytes; or -1 after nbdkit_error
 * naming WHAT when no answer came (connection, timeout, too long).
 */
extern int s3_creds_fetch (const struct s3_creds_fetch *f, const char *what,
                           long *status, char **body, size_t *len);

/* The contents of the token file PATH, trimmed, at most 64 KiB (a
 * secret: wipe it).  NULL after nbdkit_error naming WHAT (empty,
 * unreadable).
 */
extern char *s3_creds_read_token (const char *path, const char *what);

#endif /* NBDS3_S3_CREDS_FETCH_H */
