/* SPDX-License-Identifier: MIT
 *
 * nbdkit's version as `nbdkit --version` prints it, parsed and compared
 * (pure functions: the plugin runs nbdkit --version itself), and the
 * range of versions with a known bug that nbds3 warns about.
 */

#ifndef NBDS3_VERSION_H
#define NBDS3_VERSION_H

#include <stdbool.h>

struct version {
  unsigned major, minor, micro;
};

/* Parse LINE, the first line of `nbdkit --version`: "nbdkit 1.32.5",
 * maybe followed by " (EXTRA)" or a newline.  0, or -1 (nothing set).
 */
extern int version_parse_nbdkit (const char *line, struct version *v);

/* <0, 0 or >0 as A is older than, the same as or newer than B. */
extern int version_compare (const struct version *a, const struct version *b);

/* Whether nbdkit V can abort when a client resets its connection while
 * replies are in flight: 1.32.4 (commit daef505e) to 1.33.9, fixed in
 * 1.33.10 (commit 9d82aa4f, released in 1.34).
 */
extern bool version_has_reset_abort (const struct version *v);

#endif /* NBDS3_VERSION_H */
