/* SPDX-License-Identifier: MIT
 *
 * Small file and directory helpers of the FS store (store-fs-util.c).
 */

#ifndef NBDS3_STORE_FS_UTIL_H
#define NBDS3_STORE_FS_UTIL_H

#include <dirent.h>
#include <sys/types.h>

/* Return A "/" B in a new string, or NULL after nbdkit_error. */
extern char *store_fs_path_join (const char *a, const char *b);

/* Close FD keeping errno, for error paths. */
extern void store_fs_close_keep_errno (int fd);

/* Read up to LEN bytes from FD at offset 0: fewer only at end of file.
 * The count, or -1 with errno set.
 */
extern ssize_t store_fs_read_full (int fd, void *buf, size_t len);

/* The next entry of directory stream D (of PATH): 1 with *ENT set, 0 at
 * the end, -1 on error.
 */
extern int store_fs_next_entry (DIR *d, const char *path,
                                struct dirent **ent);

/* A new stream on directory FD with its own file offset, so that several
 * listings can run at once.  NULL with errno set.
 */
extern DIR *store_fs_open_dir_stream (int fd);

/* fsync the directory PATH, open as FD.  0, or -1 after nbdkit_error. */
extern int store_fs_sync_dir (const char *path, int fd);

/* Create the directory PATH, and if it is new fsync its parent.  0 (also
 * if it existed), or -1 after nbdkit_error.
 */
extern int store_fs_mkdir_durable (const char *path);

/* Create PATH and its missing parents (mkdir -p), each durably.  An
 * existing last component is accepted whatever its type: ready() checks
 * it properly.
 */
extern int store_fs_mkdir_p (const char *path);

#endif /* NBDS3_STORE_FS_UTIL_H */
