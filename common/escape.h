/* SPDX-License-Identifier: MIT
 *
 * Client-supplied text (export names, above all) made safe for one log
 * line: escaped so that it cannot start a line or hide in one, and cut
 * to a bounded length.
 */

#ifndef NBDS3_ESCAPE_H
#define NBDS3_ESCAPE_H

#include <stddef.h>

/* Bytes of client text shown in a log line, at most; the rest is cut. */
#define ESCAPE_SHOWN 64

/* Room for ESCAPE_SHOWN bytes, each escaped as \xHH at worst, the
 * marker of a cut, and the NUL.
 */
#define ESCAPE_SIZE (ESCAPE_SHOWN * 4 + 32)

/* S as one log-safe line in OUT (ESCAPE_SIZE bytes): backslash, quote,
 * control bytes and DEL are escaped (\\, \', \n, \t, \r, \xHH), and a
 * text longer than ESCAPE_SHOWN bytes is cut, with "...(N bytes)"
 * saying how long it was.  Other bytes, UTF-8 included, are kept.
 * Returns OUT.
 */
extern const char *escape_for_log (const char *s, char out[ESCAPE_SIZE]);

#endif /* NBDS3_ESCAPE_H */
