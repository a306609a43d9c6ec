/* SPDX-License-Identifier: MIT
 *
 * Scaffolding: the nbdkit callbacks arrive with the page cache.
 */

#include <config.h>

#include <stddef.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static void *
nbds3_open (int readonly)
{
  nbdkit_error ("nbds3: not built yet");
  return NULL;
}

static int64_t
nbds3_get_size (void *handle)
{
  return 0;
}

static int
nbds3_pread (void *handle, void *buf, uint32_t count, uint64_t offset,
             uint32_t flags)
{
  return -1;
}

static struct nbdkit_plugin plugin = {
  .name = "nbds3",
  .version = PACKAGE_VERSION,
  .open = nbds3_open,
  .get_size = nbds3_get_size,
  .pread = nbds3_pread,
};

NBDKIT_REGISTER_PLUGIN (plugin)
