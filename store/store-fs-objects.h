/* SPDX-License-Identifier: MIT
 *
 * The FS store's named objects under an export's directory DIR
 * (store-fs-objects.c); each function is the store.h method of the same
 * name.  put_object fails with ENOENT, not reported, when DIR does not
 * exist.
 */

#ifndef NBDS3_STORE_FS_OBJECTS_H
#define NBDS3_STORE_FS_OBJECTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

extern int store_fs_list_objects (const char *dir,
                                  int (*fn) (void *opaque, const char *name,
                                             uint64_t size),
                                  void *opaque);
extern int store_fs_put_object (const char *dir, const char *name,
                                const void *buf, size_t len, bool exclusive);
extern int store_fs_get_object (const char *dir, const char *name,
                                void *buf, size_t cap, size_t *len);
extern int store_fs_remove_object (const char *dir, const char *name);

/* The tool's removals (store.h remove_objects and remove_export), of
 * names as store_fs_list_objects reports them (temporary files too):
 * unlink the N NAMES under DIR, then fsync every directory that changed;
 * and remove DIR itself once it holds nothing but empty subdirectories
 * (ENOTEMPTY, reported, if it holds a file), then fsync its parent.
 * 0 or -1 after nbdkit_error.
 */
extern int store_fs_remove_names (const char *dir, const char *const *names,
                                  size_t n);
extern int store_fs_remove_dir (const char *dir);

#endif /* NBDS3_STORE_FS_OBJECTS_H */
