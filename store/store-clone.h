/* SPDX-License-Identifier: MIT
 *
 * Creating a clone (store-clone.c): a writable export whose pages it
 * does not hold read from its base, a snapshot (store-chain.c serves
 * it).
 */

#ifndef NBDS3_STORE_CLONE_H
#define NBDS3_STORE_CLONE_H

#include "store.h"

/* The back-reference of a clone CLONE in its base: the named object
 * "clones/CLONE" of the base export.  A base with one is not deleted.
 */
#define STORE_CLONE_REF_DIR "clones"

/* Create NAME in S as a clone of BASE, in O(1): first the back-reference
 * clones/NAME in BASE (an exclusive create), then NAME's metadata (BASE's
 * size and page size, checksums required, base=BASE) with NAME's guard
 * taken, as a server creates an export; if the metadata cannot be
 * written, the back-reference is removed again.  0, or -1 after
 * nbdkit_error with errno: ENOENT (BASE does not exist), EINVAL (BASE is
 * not read-only, a snapshot; or a name is not valid, or NAME is BASE),
 * EEXIST (NAME exists, or another clone of that name is being made), or
 * the store's.
 */
extern int store_clone_create (struct store *s, const char *base,
                               const char *name);

/* Record in BASE that the export NAME reads from it (a snapshot of a
 * clone keeps its base): the back-reference clones/NAME, created with an
 * exclusive create under BASE's guard, refused if BASE does not exist.
 * Remove takes it away again.  0, or -1 after nbdkit_error.
 */
extern int store_clone_ref_add (struct store *s, const char *base,
                                const char *name);
extern int store_clone_ref_remove (struct store *s, const char *base,
                                   const char *name);

#endif /* NBDS3_STORE_CLONE_H */
