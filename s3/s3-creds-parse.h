/* SPDX-License-Identifier: MIT
 *
 * Pure parsers for the credential documents of the chain
 * (s3-creds-parse.c): the flat JSON object that credential_process
 * prints and that the container endpoint and the instance metadata
 * service return, and the ISO 8601 times in them and in STS answers.
 * No I/O, no clock, no state: bytes in, structs out (fuzzed by
 * tests/fuzz/fuzz-creds-json.c).
 */

#ifndef NBDS3_S3_CREDS_PARSE_H
#define NBDS3_S3_CREDS_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The fields of a credentials document that nbds3 uses; each string is
 * allocated or NULL (absent).  Other members are accepted and ignored.
 */
struct s3_creds_doc {
  char *access_key_id;          /* AccessKeyId */
  char *secret_access_key;      /* SecretAccessKey (a secret) */
  char *session_token;          /* SessionToken (credential_process) */
  char *token;                  /* Token (container, IMDS) */
  char *expiration;             /* Expiration, ISO 8601 */
  char *code;                   /* Code (IMDS: "Success") */
  char *message;                /* Message (errors) */
  bool has_version;
  int64_t version;              /* Version (credential_process: 1) */
};

/* Parse TEXT (LEN bytes, no NUL needed) as one JSON object whose members
 * are strings, numbers, true, false or null (nothing nested), surrounded
 * by white space only, no member twice, at most 64 KiB.  Returns 0 and
 * fills DOC, or -1 with DOC empty and the reason (one line, no part of
 * the text) in WHY (WHY_LEN bytes).  Wipes what it frees.
 */
extern int s3_creds_parse_json (const char *text, size_t len,
                                struct s3_creds_doc *doc,
                                char *why, size_t why_len);

/* Wipe and free DOC's strings; DOC is then empty.  Safe twice. */
extern void s3_creds_doc_free (struct s3_creds_doc *doc);

/* Parse an ISO 8601 UTC time, "2026-12-01T12:00:00Z", with optional
 * fractional seconds and a "Z", "+00:00" or other numeric offset, into
 * *T (seconds since the epoch).  0, or -1 if S is not such a time.
 */
extern int s3_creds_parse_time (const char *s, time_t *t);

#endif /* NBDS3_S3_CREDS_PARSE_H */
