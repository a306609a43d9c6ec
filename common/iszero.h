/* SPDX-License-Identifier: MIT
 *
 * Whether a buffer holds only zero bytes: the test write-back makes before
 * it stores a page, so that an all-zero page is stored as a hole.  It
 * stops at the first non-zero byte, so a page of data costs a few
 * compares; only a page that is zero (or nearly) is read to the end.
 */

#ifndef NBDS3_ISZERO_H
#define NBDS3_ISZERO_H

#include <stdbool.h>
#include <stddef.h>

/* true if the LEN bytes of BUF are all zero (also when LEN is 0). */
extern bool iszero_buf (const void *buf, size_t len);

#endif /* NBDS3_ISZERO_H */
