/* SPDX-License-Identifier: MIT
 *
 * What the unit tests can ask of the nbdkit_* stand-ins.
 */

#ifndef NBDS3_NBDKIT_STUBS_H
#define NBDS3_NBDKIT_STUBS_H

#include <stddef.h>

/* Copy the last nbdkit_error message into BUF and return BUF. */
extern const char *stub_last_error (char *buf, size_t len);
extern unsigned stub_error_count (void);
extern void stub_reset_errors (void);

#endif /* NBDS3_NBDKIT_STUBS_H */
