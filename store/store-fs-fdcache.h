/* SPDX-License-Identifier: MIT
 *
 * The FS store's cache of open page files for reading (see
 * store-fs-fdcache.c).
 */

#ifndef NBDS3_STORE_FS_FDCACHE_H
#define NBDS3_STORE_FS_FDCACHE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "store.h"

/* What a cached descriptor was opened on: its inode, so that a reader
 * that does not hold the export's guard can see that the page was
 * replaced, and the checksum read from it (fixed for an inode: it is
 * set before the rename that makes the file a page).
 */
struct fs_fd_info {
  dev_t dev;
  ino_t ino;
  struct store_checksum sum;
};

struct fs_fdcache;

extern struct fs_fdcache *fs_fdcache_new (unsigned max);
extern void fs_fdcache_free (struct fs_fdcache *c);
extern uint64_t fs_fdcache_generation (struct fs_fdcache *c);
extern int fs_fdcache_take (struct fs_fdcache *c, const void *owner,
                            uint32_t page, struct fs_fd_info *info);
extern void fs_fdcache_put (struct fs_fdcache *c, const void *owner,
                            uint32_t page, int fd,
                            const struct fs_fd_info *info, uint64_t gen);
extern void fs_fdcache_drop (struct fs_fdcache *c, const void *owner,
                             uint32_t page);
extern void fs_fdcache_drop_owner (struct fs_fdcache *c, const void *owner);

#endif /* NBDS3_STORE_FS_FDCACHE_H */
