/* SPDX-License-Identifier: MIT
 *
 * CRC-32C (crc32c.h): reflected polynomial 0x82F63B78, initial value and
 * final XOR 0xFFFFFFFF, so that crc32c (0, "123456789", 9) == 0xE3069283.
 * On x86-64 with SSE 4.2 the crc32 instruction does 8 bytes a step
 * (chosen once, at the first call); elsewhere a 256-entry table does one
 * byte a step.  The instruction takes 3 cycles but can start every
 * cycle, so long buffers run as three interleaved streams over adjacent
 * STREAM-byte blocks, joined by shifting a CRC over STREAM zero bytes
 * (a linear map of the 32-bit register, kept as four byte tables built
 * once from the instruction itself) and XOR: the CRC-32C of a page costs
 * a third of the time.  The result is the same, bit for bit.
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

#define STREAM 8192             /* bytes of each of the three streams */

/* shift[k][b]: register b << 8k carried over STREAM zero bytes. */
static uint32_t shift[4][256];
static pthread_once_t shift_once = PTHREAD_ONCE_INIT;

/* The raw register C (not inverted) carried over LEN bytes at P, LEN a
 * multiple of 8.
 */
__attribute__ ((target ("sse4.2")))
static uint64_t
run_words (uint64_t c, const unsigned char *p, size_t len)
{
  for (; len >= 8; p += 8, len -= 8) {
    uint64_t w;

    memcpy (&w, p, 8);
    c = __builtin_ia32_crc32di (c, w);
  }
  return c;
}

static void
make_shift (void)
{
  static const unsigned char zeros[STREAM];
  uint32_t basis[32];

  for (int i = 0; i < 32; ++i)
    basis[i] = run_words (UINT32_C (1) << i, zeros, STREAM);
  for (int k = 0; k < 4; ++k)
    for (int b = 0; b < 256; ++b) {
      uint32_t v = 0;

      for (int j = 0; j < 8; ++j)
        if (b & (1 << j))
          v ^= basis[8 * k + j];
      shift[k][b] = v;
    }
}

static uint64_t
shift_stream (uint64_t c)
{
  return shift[0][c & 0xff] ^ shift[1][(c >> 8) & 0xff] ^
    shift[2][(c >> 16) & 0xff] ^ shift[3][(c >> 24) & 0xff];
}

/* Three streams at once, 3 * STREAM bytes a step. */
__attribute__ ((target ("sse4.2")))
static uint64_t
run_interleaved (uint64_t c, const unsigned char **pp, size_t *lenp)
{
  const unsigned char *p = *pp;
  size_t len = *lenp;

  pthread_once (&shift_once, make_shift);
  for (; len >= 3 * STREAM; p += 3 * STREAM, len -= 3 * STREAM) {
    uint64_t c1 = 0, c2 = 0;

    for (size_t i = 0; i < STREAM; i += 8) {
      uint64_t w0, w1, w2;

      memcpy (&w0, p + i, 8);
      memcpy (&w1, p + STREAM + i, 8);
      memcpy (&w2, p + 2 * STREAM + i, 8);
      c = __builtin_ia32_crc32di (c, w0);
      c1 = __builtin_ia32_crc32di (c1, w1);
      c2 = __builtin_ia32_crc32di (c2, w2);
    }
    c = shift_stream (shift_stream (c) ^ c1) ^ c2;
  }
  *pp = p;
  *lenp = len;
  return c;
}

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
  if (len >= 3 * STREAM)
    c = run_interleaved (c, &p, &len);
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
