/* SPDX-License-Identifier: MIT
 *
 * CRC-32C (Castagnoli, the checksum of iSCSI, ext4 metadata and S3's
 * x-amz-checksum-crc32c): the SSE 4.2 instruction where the processor has
 * it, a table otherwise.  Both give the same values.
 */

#ifndef NBDS3_CRC32C_H
#define NBDS3_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32C of LEN bytes of BUF, continuing from CRC (0 to start). */
extern uint32_t crc32c (uint32_t crc, const void *buf, size_t len);

/* The same, always with the table (for the unit tests). */
extern uint32_t crc32c_portable (uint32_t crc, const void *buf, size_t len);

#endif /* NBDS3_CRC32C_H */
