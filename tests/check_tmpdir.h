/* SPDX-License-Identifier: MIT
 *
 * Temporary directories of the unit tests that use a real filesystem
 * (check_tmpdir.c).
 */

#ifndef NBDS3_CHECK_TMPDIR_H
#define NBDS3_CHECK_TMPDIR_H

/* DIR/REL in a static buffer (one at a time). */
extern const char *check_path (const char *dir, const char *rel);

/* rm -rf DIR (absolute); a missing DIR is no error. */
extern void check_remove_tree (const char *dir);

#endif /* NBDS3_CHECK_TMPDIR_H */
