/* SPDX-License-Identifier: MIT
 *
 * Warnings printed once at start-up, from config_complete: things about
 * how nbds3 is run that the user should fix but that do not stop it.
 */

#ifndef NBDS3_STARTUP_H
#define NBDS3_STARTUP_H

/* Warn if the nbdkit running us has the client-reset abort (see
 * version.h).  Its version comes from running the nbdkit executable
 * (/proc/self/exe) with --version: a plugin cannot ask nbdkit for it.  If
 * that fails it says why with nbdkit_debug and warns of nothing.
 */
extern void startup_warn_nbdkit_version (void);

#endif /* NBDS3_STARTUP_H */
