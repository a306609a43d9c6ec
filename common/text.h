/* SPDX-License-Identifier: MIT
 *
 * Small text helpers used by more than one layer: secrets that are wiped
 * before they are freed, white space, decimal numbers and hex.
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

/* LEN bytes of IN as 2 * LEN lower-case hex digits and a NUL into OUT. */
extern void text_hex (const uint8_t *in, size_t len, char *out);

#endif /* NBDS3_TEXT_H */
