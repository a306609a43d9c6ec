/* SPDX-License-Identifier: MIT
 *
 * What nbds3's libFuzzer targets (tests/fuzz/fuzz-*.c) share: an
 * invariant check that aborts (so libFuzzer saves the input as a crash),
 * a growable buffer to build documents for round trips, XML escaping,
 * and a UTF-8 check written apart from the code under test.  Each target
 * is one program: its fuzz-*.c, the parser sources it tests, this
 * helper and tests/nbdkit-stubs.c, built with clang
 * -fsanitize=fuzzer,address,undefined by Makefile.am.
 */

#ifndef NBDS3_FUZZ_H
#define NBDS3_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* libFuzzer's entry points: every target defines the second, some the
 * first (called once, before the first input).  The XML parsers
 * initialise libxml2 themselves on their first call.
 */
extern int LLVMFuzzerInitialize (int *argc, char ***argv);
extern int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Abort with the failed condition when COND is false.  Unlike assert it
 * is never compiled out.
 */
#define FUZZ_CHECK(cond) \
  ((cond) ? (void) 0 : fuzz_fail (__FILE__, __LINE__, #cond))

extern void fuzz_fail (const char *file, int line, const char *what)
  __attribute__ ((noreturn));

/* The first LEN bytes of DATA, up to a NUL if there is one, as a new
 * NUL-terminated string (aborts when out of memory).
 */
extern char *fuzz_strndup (const uint8_t *data, size_t len);

/* A string that grows; always NUL-terminated once something is added. */
struct fuzz_buf {
  char *p;
  size_t len, cap;
};

extern void fuzz_buf_add (struct fuzz_buf *b, const char *s, size_t n);
extern void fuzz_buf_printf (struct fuzz_buf *b, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));
/* S as XML character data: & < > escaped, and every control character
 * as a character reference, so that a parser gives back exactly S.
 */
extern void fuzz_buf_xml_text (struct fuzz_buf *b, const char *s);
extern void fuzz_buf_free (struct fuzz_buf *b);

/* true if the LEN bytes at S are well-formed UTF-8 (Unicode's table
 * 3-7: no overlong forms, no surrogates, nothing past U+10FFFF).
 */
extern bool fuzz_utf8_valid (const char *s, size_t len);

/* true if S has no byte below 0x20 and no 0x7f. */
extern bool fuzz_no_controls (const char *s);

/* true if S neither starts nor ends with a space, tab, CR or LF. */
extern bool fuzz_trimmed (const char *s);

#endif /* NBDS3_FUZZ_H */
