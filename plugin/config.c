/* SPDX-License-Identifier: MIT
 *
 * Every config key is parsed here, in one table: name, alias, type and
 * where the value goes.  Unknown keys are an error.  Checks that involve
 * more than one key run in config_complete, which also fills in defaults
 * that depend on the process (the absolute data directory).
 */

#include <config.h>

#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-plugin.h>

#include "config.h"
#include "store.h"

#define MIN_PAGE_SIZE 4096
#define MAX_PAGE_SIZE (64 << 20)
#define MAX_CONNECTIONS 256
#define MAX_TIMEOUT 86400

struct nbds3_config config = {
  .size = UINT64_C (1) << 30,
  .page_size = 4 << 20,
  .cache_size = 256 << 20,
  .connections = 8,
  .cache_wait_timeout = 60,
  .shutdown_timeout = 60,
};

enum key_type { KEY_SIZE, KEY_UINT32, KEY_STRING, KEY_PATH };

struct key {
  const char *name;
  const char *alias;
  enum key_type type;
  size_t offset;                /* into struct nbds3_config */
  uint64_t min, max;            /* for numbers */
};

#define FIELD(f) offsetof (struct nbds3_config, f)

static const struct key keys[] = {
  { "data-dir", NULL, KEY_PATH, FIELD (data_dir), 0, 0 },
  { "size", "default-size", KEY_SIZE, FIELD (size), 1, INT64_MAX },
  { "page-size", "chunk-size", KEY_SIZE, FIELD (page_size),
    MIN_PAGE_SIZE, MAX_PAGE_SIZE },
  { "cache-size", NULL, KEY_SIZE, FIELD (cache_size), 1, INT64_MAX },
  { "connections", NULL, KEY_UINT32, FIELD (connections),
    1, MAX_CONNECTIONS },
  { "default-export", NULL, KEY_STRING, FIELD (default_export), 0, 0 },
  { "cache-wait-timeout", NULL, KEY_UINT32, FIELD (cache_wait_timeout),
    1, MAX_TIMEOUT },
  { "shutdown-timeout", NULL, KEY_UINT32, FIELD (shutdown_timeout),
    1, MAX_TIMEOUT },
};

static const struct key *
find_key (const char *name)
{
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; ++i)
    if (strcmp (keys[i].name, name) == 0 ||
        (keys[i].alias && strcmp (keys[i].alias, name) == 0))
      return &keys[i];
  return NULL;
}

static int
set_number (const struct key *k, const char *value, void *field)
{
  uint64_t v;

  if (k->type == KEY_SIZE) {
    int64_t r = nbdkit_parse_size (value);
    if (r == -1)
      return -1;                /* nbdkit_parse_size reported it */
    v = r;
  }
  else {
    uint32_t r;
    if (nbdkit_parse_uint32_t (k->name, value, &r) == -1)
      return -1;
    v = r;
  }
  if (v < k->min || v > k->max) {
    nbdkit_error ("%s=%s: must be between %" PRIu64 " and %" PRIu64,
                  k->name, value, k->min, k->max);
    return -1;
  }
  if (k->type == KEY_SIZE)
    *(uint64_t *) field = v;
  else
    *(uint32_t *) field = v;
  return 0;
}

int
config_set (const char *key, const char *value)
{
  const struct key *k = find_key (key);
  void *field;
  char *s;

  if (k == NULL) {
    nbdkit_error ("unknown parameter '%s' (nbdkit nbds3 --help lists them)",
                  key);
    return -1;
  }
  field = (char *) &config + k->offset;
  switch (k->type) {
  case KEY_SIZE:
  case KEY_UINT32:
    return set_number (k, value, field);
  case KEY_STRING:
  case KEY_PATH:
    if (*value == '\0') {
      nbdkit_error ("%s: the value must not be empty", k->name);
      return -1;
    }
    s = k->type == KEY_PATH ? nbdkit_absolute_path (value) : strdup (value);
    if (s == NULL) {
      nbdkit_error ("%s=%s: %m", k->name, value);
      return -1;
    }
    free (*(char **) field);
    *(char **) field = s;
    return 0;
  }
  abort ();
}

int
config_complete (void)
{
  uint64_t min_cache;

  if (config.page_size & (config.page_size - 1)) {
    nbdkit_error ("page-size=%" PRIu64 ": must be a power of two "
                  "(for example 64k, 1M or 4M)", config.page_size);
    return -1;
  }
  if (config.size / config.page_size > UINT32_MAX) {
    nbdkit_error ("size=%" PRIu64 ": more than 2^32 pages of page-size=%"
                  PRIu64 ": use a larger page-size", config.size,
                  config.page_size);
    return -1;
  }
  min_cache = config.page_size * (2 * config.connections + 4);
  if (config.cache_size < min_cache) {
    nbdkit_error ("cache-size=%" PRIu64 " is too small for page-size=%"
                  PRIu64 " and connections=%" PRIu32 ": it must be at least "
                  "%" PRIu64 " (page-size * (2 * connections + 4))",
                  config.cache_size, config.page_size, config.connections,
                  min_cache);
    return -1;
  }
  if (config.default_export == NULL &&
      (config.default_export = strdup ("default")) == NULL)
    goto nomem;
  if (!store_export_name_valid (config.default_export)) {
    nbdkit_error ("default-export=%s: not a valid export name (1-200 bytes "
                  "of UTF-8, no '/', no control characters, no leading '.')",
                  config.default_export);
    return -1;
  }
  if (config.data_dir == NULL &&
      (config.data_dir = nbdkit_absolute_path ("data")) == NULL)
    return -1;
  return 0;

 nomem:
  nbdkit_error ("config: out of memory");
  return -1;
}

void
config_free (void)
{
  free (config.data_dir);
  free (config.default_export);
  config.data_dir = config.default_export = NULL;
}
