/* SPDX-License-Identifier: MIT
 *
 * The FS store's holder file (store-fs-holder.c): exports/<export>/
 * nbds3.holder, written by the process that takes the export's flock and
 * removed before it lets go of it, so that the nbds3 tool can say who
 * holds an export.  Only the flock is the guard: the file informs.
 */

#ifndef NBDS3_STORE_FS_HOLDER_H
#define NBDS3_STORE_FS_HOLDER_H

#include <stddef.h>

/* Write this process (host, pid, a random token, the time) as the holder
 * of the export directory DIR_FD (the path DIR, for messages), which it
 * has just locked.  Not fsync'd: a crash leaves a stale file that the
 * next holder replaces, and a free flock says it is stale.  Failures are
 * debug messages: the lock is what counts.
 */
extern void store_fs_holder_write (const char *dir, int dir_fd);

/* Remove the holder file of DIR_FD, before its lock is released. */
extern void store_fs_holder_remove (int dir_fd);

/* The holder file of DIR_FD as "HOST pid PID since TIME" into BUF of LEN
 * bytes: 1, or 0 if there is none (or it cannot be read).
 */
extern int store_fs_holder_describe (int dir_fd, char *buf, size_t len);

#endif /* NBDS3_STORE_FS_HOLDER_H */
