/* SPDX-License-Identifier: MIT
 *
 * iszero_buf (iszero.h): the first 16 bytes one by one, then the buffer
 * compared with itself 16 bytes further on.  If the first 16 are zero,
 * byte i + 16 equals byte i for every i exactly when all are zero, and
 * memcmp (glibc's is vectorised) stops at the first that differs.  The
 * second stream reads 16 bytes behind the first, from the same cache
 * lines, so the buffer is read from memory once.
 */

#include <config.h>

#include <string.h>

#include "iszero.h"

#define HEAD 16

bool
iszero_buf (const void *buf, size_t len)
{
  const unsigned char *p = buf;
  size_t head = len < HEAD ? len : HEAD;

  for (size_t i = 0; i < head; ++i)
    if (p[i])
      return false;
  return len <= HEAD || memcmp (p, p + HEAD, len - HEAD) == 0;
}
