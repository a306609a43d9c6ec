/* SPDX-License-Identifier: MIT
 *
 * Every config key is parsed here, in one table: name, alias, type and
 * where the value goes.  Unknown keys and a key given twice (under its
 * name or its alias) are an error.  Values are parsed strictly by text.h
 * (decimal digits, nbdkit's size suffixes, nbdkit's boolean words), and
 * each mistake is one error line naming the key, the value and what is
 * accepted.  Checks that involve more than one key run in
 * config_complete, which also fills in defaults that depend on the
 * process (the absolute data directory) and, once the config is good,
 * warns of a secret given literally.  The nbds3 tool (tool/) parses its
 * store keys with this file too, so nothing here is the server's alone:
 * the server's own start-up warning (startup.h) is nbds3.c's.
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nbdkit-plugin.h>

#include "inflight.h"
#include "options.h"
#include "s3-credentials.h"
#include "s3-settings.h"
#include "store.h"
#include "text.h"

#define MAX_CONNECTIONS 256
#define MAX_TIMEOUT 86400

struct nbds3_config config = {
  .size = UINT64_C (1) << 30,
  .page_size = 4 << 20,
  .cache_size = 256 << 20,
  .connections = 0,             /* auto */
  .cache_wait_timeout = 60,
  .shutdown_timeout = 60,
  .max_exports = 128,
  .linger = 10,
  .s3 = {
    .tls_verify = true,
    .connect_timeout = 10,
    .request_timeout = 60,
    .retry_deadline = 120,
    .lease_timeout = 180,
  },
};

enum key_type {
  KEY_SIZE, KEY_UINT32, KEY_STRING, KEY_PATH,
  KEY_COUNT,                    /* KEY_UINT32, or auto (0) */
  KEY_BOOL,
  KEY_SECRET,                   /* nbdkit_read_password; wiped when freed;
                                 * a literal value is warned about */
  KEY_KEY_ID,                   /* read as KEY_SECRET, but an identifier
                                 * (access-key), so a literal is fine */
};

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
    CONFIG_MIN_PAGE_SIZE, CONFIG_MAX_PAGE_SIZE },
  { "cache-size", NULL, KEY_SIZE, FIELD (cache_size), 1, INT64_MAX },
  { "connections", NULL, KEY_COUNT, FIELD (connections),
    1, MAX_CONNECTIONS },
  { "inflight-bytes", NULL, KEY_SIZE, FIELD (inflight_bytes),
    CONFIG_MIN_PAGE_SIZE, INT64_MAX },
  { "default-export", NULL, KEY_STRING, FIELD (default_export), 0, 0 },
  { "store", NULL, KEY_STRING, FIELD (store), 0, 0 },
  { "cache-wait-timeout", NULL, KEY_UINT32, FIELD (cache_wait_timeout),
    1, MAX_TIMEOUT },
  { "shutdown-timeout", NULL, KEY_UINT32, FIELD (shutdown_timeout),
    1, MAX_TIMEOUT },
  { "stats-file", NULL, KEY_PATH, FIELD (stats_file), 0, 0 },
  { "max-exports", NULL, KEY_UINT32, FIELD (max_exports), 1, 1 << 20 },
  { "linger", NULL, KEY_UINT32, FIELD (linger), 0, MAX_TIMEOUT },
  { "bucket", NULL, KEY_STRING, FIELD (s3.bucket), 0, 0 },
  { "prefix", NULL, KEY_STRING, FIELD (s3.prefix), 0, 0 },
  { "region", NULL, KEY_STRING, FIELD (s3.region), 0, 0 },
  { "endpoint", "endpoint-url", KEY_STRING, FIELD (s3.endpoint),
    0, 0 },
  { "access-key", NULL, KEY_KEY_ID, FIELD (s3.access_key), 0, 0 },
  { "secret-key", NULL, KEY_SECRET, FIELD (s3.secret_key), 0, 0 },
  { "session-token", NULL, KEY_SECRET, FIELD (s3.session_token),
    0, 0 },
  { "imds-v1", NULL, KEY_BOOL, FIELD (s3.imds_v1), 0, 0 },
  { "addressing", NULL, KEY_STRING, FIELD (addressing), 0, 0 },
  { "tls-verify", NULL, KEY_BOOL, FIELD (s3.tls_verify), 0, 0 },
  { "payload-signing", NULL, KEY_STRING, FIELD (payload_signing), 0, 0 },
  { "ca-file", NULL, KEY_PATH, FIELD (s3.ca_file), 0, 0 },
  { "sse", NULL, KEY_STRING, FIELD (s3.sse), 0, 0 },
  { "sse-kms-key-id", NULL, KEY_STRING, FIELD (s3.sse_kms_key_id), 0, 0 },
  { "storage-class", NULL, KEY_STRING, FIELD (s3.storage_class), 0, 0 },
  { "connect-timeout", NULL, KEY_UINT32, FIELD (s3.connect_timeout),
    1, MAX_TIMEOUT },
  { "request-timeout", NULL, KEY_UINT32, FIELD (s3.request_timeout),
    1, MAX_TIMEOUT },
  { "retry-deadline", NULL, KEY_UINT32, FIELD (s3.retry_deadline),
    1, MAX_TIMEOUT },
  { "lease-timeout", NULL, KEY_UINT32, FIELD (s3.lease_timeout),
    1, MAX_TIMEOUT },
  { "break-lease", NULL, KEY_BOOL, FIELD (s3.break_lease), 0, 0 },
  { "accept-unconditional", NULL, KEY_BOOL,
    FIELD (s3.accept_unconditional), 0, 0 },
};

/* The S3-only keys are those stored in struct nbds3_config after
 * s3.bucket.  The first one given, to refuse it without bucket=.
 */
#define IS_S3_KEY(k) ((k)->offset > FIELD (s3.bucket))
#define NR_KEYS (sizeof keys / sizeof keys[0])
static const char *s3_key_given;
static bool given[NR_KEYS];     /* by index into keys[] */
static bool literal[NR_KEYS];   /* a KEY_SECRET given literally */

static const struct key *
find_key (const char *name)
{
  for (size_t i = 0; i < NR_KEYS; ++i)
    if (strcmp (keys[i].name, name) == 0 ||
        (keys[i].alias && strcmp (keys[i].alias, name) == 0))
      return &keys[i];
  return NULL;
}

/* Parse VALUE, the value of the number key K, into *V: 0, or -1 after
 * one nbdkit_error saying what is accepted.
 */
static int
parse_number (const struct key *k, const char *value, uint64_t *v)
{
  bool size = k->type == KEY_SIZE, count = k->type == KEY_COUNT;
  int r;

  if (count && strcmp (value, "auto") == 0) {
    *v = 0;
    return 0;
  }
  r = size ? text_parse_size (value, v) : text_parse_decimal (value, v);
  if (r == 0 && *v >= k->min && *v <= k->max)
    return 0;
  if (r == -1 && errno != ERANGE) {
    if (size)
      nbdkit_error ("%s=%s: not a size: use decimal digits with at most "
                    "one suffix, b, s (512 bytes), k, M, G, T, P or E "
                    "(powers of 1024), e.g. 64k, 4M, 1G; between %" PRIu64
                    " and %" PRIu64 " bytes", k->name, value, k->min, k->max);
    else
      nbdkit_error ("%s=%s: not a number: use decimal digits only (no sign, "
                    "spaces or 0x), between %" PRIu64 " and %" PRIu64 "%s",
                    k->name, value, k->min, k->max, count ? ", or auto" : "");
    return -1;
  }
  nbdkit_error ("%s=%s: out of range: must be between %" PRIu64 " and %"
                PRIu64 "%s", k->name, value, k->min, k->max,
                size ? " bytes" : count ? ", or auto" : "");
  return -1;
}

static int
set_number (const struct key *k, const char *value, void *field)
{
  uint64_t v;

  if (parse_number (k, value, &v) == -1)
    return -1;
  if (k->type == KEY_SIZE)
    *(uint64_t *) field = v;
  else
    *(uint32_t *) field = v;
  return 0;
}

/* nbdkit_read_password reports a file it cannot open without naming the
 * key, and the caller would add a second line: check +FILE first, so
 * that the usual mistake is one line.
 */
static int
check_secret_file (const struct key *k, const char *value)
{
  int fd;

  if (value[0] != '+')
    return 0;
  fd = open (value + 1, O_RDONLY | O_CLOEXEC);
  if (fd == -1) {
    nbdkit_error ("%s=%s: cannot open the file: %m (+FILE names a file "
                  "that holds the secret)", k->name, value);
    return -1;
  }
  close (fd);
  return 0;
}

static int
set_secret (const struct key *k, const char *value, void *field)
{
  char *s;

  if (check_secret_file (k, value) == -1)
    return -1;
  if (nbdkit_read_password (value, &s) == -1)
    return -1;                  /* nbdkit said why */
  if (*s == '\0') {
    nbdkit_error ("%s: the value must not be empty", k->name);
    free (s);
    return -1;
  }
  text_secret_free (*(char **) field);
  *(char **) field = s;
  literal[k - keys] = k->type == KEY_SECRET &&
    value[0] != '+' && value[0] != '-';
  return 0;
}

/* A key given twice is a mistake, whichever of its names was used. */
static int
check_once (const struct key *k)
{
  if (!given[k - keys]) {
    given[k - keys] = true;
    return 0;
  }
  if (k->alias)
    nbdkit_error ("%s= given twice: give it once (%s= is the same key)",
                  k->name, k->alias);
  else
    nbdkit_error ("%s= given twice: give it once", k->name);
  return -1;
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
  if (k->offset == FIELD (store) && config.store) {
    nbdkit_error ("store=%s: the store is already %s (give one bare "
                  "argument or store=)", value, config.store);
    return -1;
  }
  if (check_once (k) == -1)
    return -1;
  if (IS_S3_KEY (k) && s3_key_given == NULL)
    s3_key_given = k->name;
  if (k->offset == FIELD (size))
    config.size_given = true;
  if (k->offset == FIELD (max_exports))
    config.max_exports_given = true;
  switch (k->type) {
  case KEY_SIZE:
  case KEY_UINT32:
  case KEY_COUNT:
    return set_number (k, value, field);
  case KEY_BOOL: {
    int b = text_parse_bool (value);
    if (b == -1) {
      nbdkit_error ("%s=%s: not a boolean: use true or false (also 1/0, "
                    "yes/no, y/n, t/f, on/off, in any case)", k->name, value);
      return -1;
    }
    *(bool *) field = b;
    return 0;
  }
  case KEY_SECRET:
  case KEY_KEY_ID:
    return set_secret (k, value, field);
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

/* VALUE of KEY (NULL: not given, *MODE untouched) as an index into
 * the N names of MODES.  0, or -1 after nbdkit_error.
 */
static int
parse_mode (const char *key, const char *value,
            const char *const *modes, size_t n, unsigned *mode)
{
  if (value == NULL)
    return 0;
  for (size_t i = 0; i < n; ++i)
    if (strcmp (value, modes[i]) == 0) {
      *mode = i;
      return 0;
    }
  nbdkit_error ("%s=%s: use %s, %s or %s", key, value, modes[0], modes[1],
                modes[2]);
  return -1;
}

/* addressing= and payload-signing= into config.s3.  0 or -1. */
static int
complete_s3_modes (void)
{
  static const char *const addressing[] = {
    [S3_ADDRESSING_AUTO] = "auto",
    [S3_ADDRESSING_PATH] = "path",
    [S3_ADDRESSING_VIRTUAL] = "virtual",
  };
  static const char *const signing[] = {
    [S3_PAYLOAD_AUTO] = "auto",
    [S3_PAYLOAD_SIGNED] = "signed",
    [S3_PAYLOAD_UNSIGNED] = "unsigned",
  };
  unsigned a = config.s3.addressing, p = config.s3.payload_signing;

  if (parse_mode ("addressing", config.addressing, addressing, 3, &a) == -1 ||
      parse_mode ("payload-signing", config.payload_signing, signing, 3,
                  &p) == -1)
    return -1;
  config.s3.addressing = a;
  config.s3.addressing_given = config.addressing != NULL;
  config.s3.payload_signing = p;
  return 0;
}

/* The S3 keys, checked together (bucket= is set). */
static int
complete_s3 (void)
{
  const char *b = config.s3.bucket;

  if (strlen (b) > 255 || strchr (b, '/') != NULL) {
    nbdkit_error ("bucket=%s: not a bucket name (at most 255 bytes, no '/'; "
                  "the prefix exports/ is nbds3's own)", b);
    return -1;
  }
  for (const char *p = b; *p; ++p)
    if ((unsigned char) *p < 0x20 || *p == 0x7f) {
      nbdkit_error ("bucket=: the name contains control characters");
      return -1;
    }
  if (complete_s3_modes () == -1 || s3_settings_resolve (&config.s3) == -1)
    return -1;
  if (config.s3.lease_timeout <=
      2 * (config.s3.request_timeout + config.s3.connect_timeout)) {
    nbdkit_error ("lease-timeout=%" PRIu32 " is too short for "
                  "request-timeout=%" PRIu32 " and connect-timeout=%" PRIu32
                  ": it must be more than 2 * (request-timeout + "
                  "connect-timeout) = %" PRIu32 " (a holder renews its lease "
                  "every lease-timeout/6 and stops starting requests in time "
                  "for the last one to end before the lease could run out)",
                  config.s3.lease_timeout, config.s3.request_timeout,
                  config.s3.connect_timeout,
                  2 * (config.s3.request_timeout + config.s3.connect_timeout));
    return -1;
  }
  if (config.s3.ca_file && access (config.s3.ca_file, R_OK) == -1) {
    nbdkit_error ("ca-file=%s: %m", config.s3.ca_file);
    return -1;
  }
  if (s3_credentials_resolve (&config.s3) == -1)
    return -1;
  if (config.s3.endpoint &&
      strncmp (config.s3.endpoint, "http://", 7) != 0 &&
      strncmp (config.s3.endpoint, "https://", 8) != 0) {
    nbdkit_error ("endpoint=%s: must start with http:// or https://",
                  config.s3.endpoint);
    return -1;
  }
  return 0;
}

/* The PREFIX of store=s3://BUCKET/PREFIX: prefix=PREFIX. */
static int
complete_store_prefix (const char *prefix)
{
  if (config.s3.prefix) {
    nbdkit_error ("store=%s and prefix=%s: give the prefix once",
                  config.store, config.s3.prefix);
    return -1;
  }
  if ((config.s3.prefix = strdup (prefix)) == NULL) {
    nbdkit_error ("store=%s: %m", config.store);
    return -1;
  }
  return 0;
}

/* store=DIR is data-dir=DIR, store=s3://BUCKET[/PREFIX] is bucket=BUCKET
 * (and prefix=PREFIX).
 */
static int
complete_store (void)
{
  const char *v = config.store, *slash;

  if (config.data_dir || config.s3.bucket) {
    nbdkit_error ("store=%s: give the store once, as store= (or the bare "
                  "argument) or as data-dir= or bucket=, not both", v);
    return -1;
  }
  if (strncmp (v, "s3://", 5) != 0) {
    config.data_dir = nbdkit_absolute_path (v);
    return config.data_dir ? 0 : -1;
  }
  v += 5;
  slash = strchr (v, '/');
  if (slash == v || *v == '\0') {
    nbdkit_error ("store=%s: no bucket name: use s3://BUCKET or "
                  "s3://BUCKET/PREFIX", config.store);
    return -1;
  }
  if (slash && slash[1] != '\0' && complete_store_prefix (slash + 1) == -1)
    return -1;
  config.s3.bucket = strndup (v, slash ? (size_t) (slash - v) : strlen (v));
  if (config.s3.bucket == NULL) {
    nbdkit_error ("store=%s: %m", config.store);
    return -1;
  }
  return 0;
}

/* The environment variable that can hold the secret of key K instead. */
static const char *
secret_env (const struct key *k)
{
  return k->offset == FIELD (s3.session_token) ? "AWS_SESSION_TOKEN"
    : "AWS_SECRET_ACCESS_KEY";
}

/* nbdkit -v echoes every key=value, and ps shows the command line: say
 * so for each secret given there, once, without the secret.
 */
static void
warn_literal_secrets (void)
{
  for (size_t i = 0; i < NR_KEYS; ++i)
    if (literal[i])
      nbdkit_error ("%s= is given literally on the command line, so it is "
                    "visible in ps and in nbdkit -v output: use %s=+FILE "
                    "or the %s environment variable", keys[i].name,
                    keys[i].name, secret_env (&keys[i]));
}

/* The requests in flight (inflight.h): the byte target must hold one
 * page, and the cache the pages in flight, a writer's copy of each and
 * four more.  Sets config.requests.
 */
static int
complete_inflight (void)
{
  struct inflight_plan plan;
  uint64_t min_cache;

  if (config.inflight_bytes && config.inflight_bytes < config.page_size) {
    nbdkit_error ("inflight-bytes=%" PRIu64 " is less than one page of "
                  "page-size=%" PRIu64 ": give at least page-size",
                  config.inflight_bytes, config.page_size);
    return -1;
  }
  inflight_plan (config.page_size, config.cache_size, config.inflight_bytes,
                 config.connections, &plan);
  min_cache = inflight_min_cache (config.page_size, plan.requests);
  if (config.cache_size >= min_cache) {
    config.requests = plan.requests;
    return 0;
  }
  if (config.inflight_bytes)
    nbdkit_error ("inflight-bytes=%" PRIu64 " is too large for cache-size=%"
                  PRIu64 " and page-size=%" PRIu64 ": %u requests in flight "
                  "need cache-size at least %" PRIu64 " (page-size * (2 * "
                  "requests + 4)); give at most (cache-size - 4 * page-size) "
                  "/ 2, or leave it out (a quarter of cache-size)",
                  config.inflight_bytes, config.cache_size, config.page_size,
                  plan.requests, min_cache);
  else
    nbdkit_error ("cache-size=%" PRIu64 " is too small for page-size=%"
                  PRIu64 ": it must be at least %" PRIu64 " (page-size * 6: "
                  "one request in flight, a writer's copy and four pages)",
                  config.cache_size, config.page_size, min_cache);
  return -1;
}

int
config_complete (void)
{
  if (config.store && complete_store () == -1)
    return -1;
  if (config.s3.bucket == NULL && s3_key_given) {
    nbdkit_error ("%s= only applies to the S3 store: set bucket= too",
                  s3_key_given);
    return -1;
  }
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
  if (complete_inflight () == -1)
    return -1;
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
  config.s3.connections = config.requests;
  if (config.s3.bucket && complete_s3 () == -1)
    return -1;
  warn_literal_secrets ();
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
  free (config.store);
  free (config.addressing);
  free (config.payload_signing);
  free (config.stats_file);
  config.data_dir = config.default_export = config.store = NULL;
  config.addressing = config.payload_signing = config.stats_file = NULL;
  s3_config_free (&config.s3);
}
