/* SPDX-License-Identifier: MIT
 *
 * The plugin's configuration: every key=value nbdkit passes, parsed in one
 * table (config.c), checked together in config_complete.
 */

#ifndef NBDS3_CONFIG_H
#define NBDS3_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

struct nbds3_config {
  char *data_dir;               /* absolute; FS store */
  uint64_t size;                /* of a new export */
  uint64_t page_size;
  uint64_t cache_size;
  uint32_t connections;
  char *default_export;
  uint32_t cache_wait_timeout;  /* seconds */
  uint32_t shutdown_timeout;    /* seconds */
};

extern struct nbds3_config config;

extern int config_set (const char *key, const char *value);
extern int config_complete (void);
extern void config_free (void);

#define CONFIG_HELP \
  "data-dir=DIR             Directory of the filesystem store (default ./data).\n" \
  "size=SIZE                Size of a new export (default 1G).\n" \
  "page-size=SIZE           Page size, 4k..64M, a power of two (default 4M).\n" \
  "cache-size=SIZE          Memory for page buffers (default 256M).\n" \
  "connections=N            Store requests in flight (default 8).\n" \
  "default-export=NAME      Export for an empty name (default 'default').\n" \
  "cache-wait-timeout=SECS  How long a write waits for cache memory (60).\n" \
  "shutdown-timeout=SECS    Bound on the final write-back (60)."

#endif /* NBDS3_CONFIG_H */
