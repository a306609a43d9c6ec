/* SPDX-License-Identifier: MIT
 *
 * Debug flags, switched on with nbdkit -v -D nbds3.<area>=1.  nbdkit
 * finds them by name in the plugin, so they are the only symbols besides
 * plugin_init that the module exports.
 */

#ifndef NBDS3_DEBUG_H
#define NBDS3_DEBUG_H

#include <nbdkit-plugin.h>

extern NBDKIT_DLL_PUBLIC int nbds3_debug_cache;  /* cache decisions */
extern NBDKIT_DLL_PUBLIC int nbds3_debug_store;  /* every store request */
extern NBDKIT_DLL_PUBLIC int nbds3_debug_s3;     /* HTTP requests */
extern NBDKIT_DLL_PUBLIC int nbds3_debug_stats;  /* periodic statistics */

#endif /* NBDS3_DEBUG_H */
