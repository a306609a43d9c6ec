/* SPDX-License-Identifier: MIT
 *
 * The debug flag variables of debug.h.  They live in the core library so
 * that the unit tests, which link it without the plugin, have them too.
 */

#include <config.h>

#include "debug.h"

NBDKIT_DLL_PUBLIC int nbds3_debug_cache = 0;
NBDKIT_DLL_PUBLIC int nbds3_debug_store = 0;
NBDKIT_DLL_PUBLIC int nbds3_debug_s3 = 0;
NBDKIT_DLL_PUBLIC int nbds3_debug_stats = 0;
