/* SPDX-License-Identifier: MIT
 *
 * The plugin's configuration: every key=value nbdkit passes, parsed in one
 * table (options.c), checked together in config_complete.
 */

#ifndef NBDS3_OPTIONS_H
#define NBDS3_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "s3-config.h"

/* The page-size= key's bounds (also what nbds3 verify calls sane). */
#define CONFIG_MIN_PAGE_SIZE 4096
#define CONFIG_MAX_PAGE_SIZE (64 << 20)

struct nbds3_config {
  char *data_dir;               /* absolute; FS store */
  uint64_t size;                /* of a new export */
  bool size_given;              /* size= given, not the default */
  uint64_t page_size;
  uint64_t cache_size;
  uint32_t connections;         /* requests in flight, at most (0: auto) */
  uint64_t inflight_bytes;      /* bytes in flight aimed at (0: a quarter
                                   of cache_size) */
  uint32_t requests;            /* requests in flight, at most, by the
                                   rule of inflight.h: set in
                                   config_complete */
  char *default_export;
  char *store;                  /* DIR or s3://BUCKET: data_dir or s3.bucket */
  uint32_t cache_wait_timeout;  /* seconds */
  uint32_t shutdown_timeout;    /* seconds */
  char *stats_file;             /* absolute, or NULL */
  uint32_t max_exports;         /* open at once, lingering ones included */
  bool max_exports_given;       /* ... given, not the default */
  uint32_t linger;              /* seconds an unused export stays open */

  /* The S3 store, used when s3.bucket is set.  s3.connections is
   * requests above, set in config_complete.
   */
  struct s3_config s3;          /* secrets wiped when freed */
  char *addressing;             /* "auto", "path" or "virtual": s3.addressing */
  char *payload_signing;        /* "auto", "signed" or "unsigned":
                                 * s3.payload_signing */
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
  "connections=N|auto       Store requests in flight, at most (default\n" \
  "                         auto: as many as inflight-bytes allows, <= 64).\n" \
  "inflight-bytes=SIZE      Bytes of store requests in flight aimed at\n" \
  "                         (default a quarter of cache-size).\n" \
  "default-export=NAME      Export for an empty name (default 'default').\n" \
  "store=DIR|s3://BUCKET[/PREFIX]  The store, also given as the one bare\n" \
  "                         argument: data-dir=DIR, or bucket=BUCKET (the\n" \
  "                         S3 store) and prefix=PREFIX.\n" \
  "cache-wait-timeout=SECS  How long a write waits for cache memory (60).\n" \
  "shutdown-timeout=SECS    Bound on the final write-back (60).\n" \
  "stats-file=PATH          Write statistics (JSON) here every second.\n" \
  "max-exports=N            Exports open at once, at most (default 128).\n" \
  "linger=SECS              Keep an unused export open this long (10).\n" \
  "bucket=NAME              Keep pages in this S3 bucket (the S3 store).\n" \
  "prefix=PREFIX            Exports live under PREFIX/exports/ in the bucket.\n" \
  "region=REGION            S3 region (AWS_REGION, AWS_DEFAULT_REGION, the\n" \
  "                         profile's region, else us-east-1).\n" \
  "endpoint=URL             S3 server, http[s]://HOST[:PORT] (alias\n" \
  "                         endpoint-url; AWS_ENDPOINT_URL_S3,\n" \
  "                         AWS_ENDPOINT_URL, the profile's endpoint_url;\n" \
  "                         default AWS).\n" \
  "access-key=KEY           S3 access key id (AWS_ACCESS_KEY_ID, or\n" \
  "                         ~/.aws/credentials).  Like secret-key and\n" \
  "                         session-token it takes +FILE, -FD or - (read\n" \
  "                         from the terminal); a value starting with + or\n" \
  "                         - must come from a file or the environment.\n" \
  "secret-key=SECRET        S3 secret access key (AWS_SECRET_ACCESS_KEY).\n" \
  "session-token=TOKEN      S3 session token (AWS_SESSION_TOKEN).\n" \
  "imds-v1=BOOL             Let EC2 instance metadata credentials fall back\n" \
  "                         to IMDSv1 when the IMDSv2 token is refused.\n" \
  "addressing=auto|path|virtual  Bucket in the path or the host name\n" \
  "                         (the profile's s3 addressing_style; auto: path\n" \
  "                         for endpoint=, virtual for AWS).\n" \
  "tls-verify=BOOL          Verify the server's certificate (default true).\n" \
  "payload-signing=auto|signed|unsigned  Sign each body's SHA-256, or send\n" \
  "                         UNSIGNED-PAYLOAD (auto: unsigned over https only).\n" \
  "ca-file=FILE             CA certificates to verify it with (AWS_CA_BUNDLE,\n" \
  "                         the profile's ca_bundle).\n" \
  "sse=AES256|aws:kms       Server-side encryption of the objects nbds3 PUTs.\n" \
  "sse-kms-key-id=KEY       The KMS key for sse=aws:kms (default: S3's).\n" \
  "storage-class=CLASS      S3 storage class of the pages (e.g. STANDARD_IA).\n" \
  "connect-timeout=SECS     S3 connection timeout per attempt (10).\n" \
  "request-timeout=SECS     S3 request timeout per attempt (60).\n" \
  "retry-deadline=SECS      Bound on one S3 request, retries included (120).\n" \
  "lease-timeout=SECS       An S3 export's single-writer lease runs out\n" \
  "                         this long after its holder last renewed it (180).\n" \
  "break-lease=BOOL         Take exports whose lease another server holds\n" \
  "                         at once (only if it is known to be gone).\n" \
  "accept-unconditional=BOOL  Write to an S3 server that ignores\n" \
  "                         conditional PUTs, unprotected (default false)."

#endif /* NBDS3_OPTIONS_H */
