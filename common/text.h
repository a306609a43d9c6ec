/* SPDX-License-Identifier: MIT
 *
 * Small text helpers used by more than one layer: secrets that are wiped
 * before they are freed, white space, decimal numbers, sizes, booleans and
 * hex.  The parsers print nothing: the caller, which knows the key, says
 * what was wrong in one line.
 */

#ifndef NBDS3_TEXT_H
#define NBDS3_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MIN(a, b) ((a) < (b) ? (a) : (b))

/* Wipe the string S (OPENSSL_cleanse), then free it.  S may be NULL. */
extern void text_secret_free (char *s);

/* A space or a tab, CR or LF. */
extern bool text_is_space (char c);

/* S without its leading spaces and tabs, its trailing ones (and CRs)
 * cut off in place.
 */
extern char *text_trim (char *s);

/* Parse S, surrounded by white space or not, as an unsigned decimal
 * number that fills the rest of it.  0, or -1 (nothing set).
 */
extern int text_parse_u64 (const char *s, uint64_t *r);

/* Parse S as an unsigned decimal number, strictly: one or more digits
 * and nothing else (no sign, white space or "0x").  0, or -1 (nothing
 * set) with errno EINVAL (not such a number) or ERANGE (over UINT64_MAX).
 */
extern int text_parse_decimal (const char *s, uint64_t *r);

/* Parse S as a size in bytes: decimal digits as text_parse_decimal, then
 * at most one suffix, in either case: b (bytes), s (512-byte sectors),
 * or k, m, g, t, p, e (powers of 1024).  These are nbdkit_parse_size's
 * suffixes.  0, or -1 (nothing set) with errno EINVAL or ERANGE (over
 * INT64_MAX bytes, nbdkit_parse_size's bound).
 */
extern int text_parse_size (const char *s, uint64_t *r);

/* Parse S as a boolean, exactly one of nbdkit_parse_bool's words in any
 * case: 1 for "1", "true", "t", "yes", "y", "on"; 0 for "0", "false",
 * "f", "no", "n", "off"; -1 for anything else (also "" and " on").
 */
extern int text_parse_bool (const char *s);

/* LEN bytes of IN as 2 * LEN lower-case hex digits and a NUL into OUT. */
extern void text_hex (const uint8_t *in, size_t len, char *out);

#endif /* NBDS3_TEXT_H */
