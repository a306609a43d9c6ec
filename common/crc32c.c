/* SPDX-License-Identifier: MIT
 *
 * CRC-32C (crc32c.h): reflected polynomial 0x82F63B78, initial value and
 * final XOR 0xFFFFFFFF, so that crc32c (0, "123456789", 9) == 0xE3069283.
 * On x86-64 with SSE 4.2 the crc32 instruction does 8 bytes a step
 * (chosen once, at the first call); elsewhere a 256-entry table does one
 * byte a step.
 */

#include <config.h>

#include <pthread.h>
#include <string.h>

#include "crc32c.h"

#define POLY UINT32_C (0x82F63B78)

static uint32_t table[256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void
make_table (void)
{
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;

    for (int k = 0; k < 8; ++k)
      c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
    table[i] = c;
  }
}

uint32_t
crc32c_portable (uint32_t crc, const void *buf, size_t len)
{
  const unsigned char *p = buf;

  pthread_once (&table_once, make_table);
  crc = ~crc;
  while (len--)
    crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}

#if defined (__x86_64__) && defined (__GNUC__)

__attribute__ ((target ("sse4.2")))
static uint32_t
crc32c_sse42 (uint32_t crc, const void *buf, size_t len)
{
  const unsigned char *p = buf;
  uint64_t c = ~crc;

  while (len > 0 && ((uintptr_t) p & 7)) {
    c = __builtin_ia32_crc32qi ((uint32_t) c, *p++);
    len--;
  }
  while (len >= 8) {
    uint64_t w;

    memcpy (&w, p, 8);
    c = __builtin_ia32_crc32di (c, w);
    p += 8;
    len -= 8;
  }
  while (len--)
    c = __builtin_ia32_crc32qi ((uint32_t) c, *p++);
  return ~(uint32_t) c;
}

uint32_t
crc32c (uint32_t crc, const void *buf, size_t len)
{
  static int have_sse42 = -1;   /* atomic: -1 until the first call */
  int have = __atomic_load_n (&have_sse42, __ATOMIC_RELAXED);

  if (have == -1) {
    __builtin_cpu_init ();
    have = __builtin_cpu_supports ("sse4.2") ? 1 : 0;
    __atomic_store_n (&have_sse42, have, __ATOMIC_RELAXED);
  }
  return have ? crc32c_sse42 (crc, buf, len)
    : crc32c_portable (crc, buf, len);
}

#else

uint32_t
crc32c (uint32_t crc, const void *buf, size_t len)
{
  return crc32c_portable (crc, buf, len);
}

#endif
