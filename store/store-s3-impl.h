/* SPDX-License-Identifier: MIT
 *
 * Private to the S3 store's files: store-s3.c (the core: requests,
 * listing, exports, metadata, pages, the lease and the ops table),
 * store-s3-objects.c (named objects and the tool's methods) and
 * store-s3-snap.c (tombstones and snapshots' copies).  It holds the
 * store's and the export's structs, the helpers of store-s3.c that the
 * other two call, and the methods those two define for the ops table in
 * store-s3.c.  Nothing else includes it: the store's interface is
 * store-s3.h, and the invariants are at the top of store-s3.c.
 */

#ifndef NBDS3_STORE_S3_IMPL_H
#define NBDS3_STORE_S3_IMPL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "s3-http.h"
#include "s3-xml.h"
#include "store-s3-etags.h"
#include "store-s3-lease.h"
#include "store.h"

/* The user metadata naming the attempt that wrote a page, and the one
 * holding its checksum (8 hex digits).
 */
#define WRITER_META "nbds3-writer"
#define CHECKSUM_META "nbds3-crc32c"
#define WRITER_TOKEN_BYTES 8
/* Room for a nonce: the token, '-', a 64-bit count. */
#define NONCE_MAX (2 * WRITER_TOKEN_BYTES + 1 + 20 + 1)

struct s3_store {
  struct store base;
  struct s3_http *http;
  const char *bucket, *endpoint;        /* the client's, for messages */
  char *root;                   /* exports/, or PREFIX/exports/ with
                                 * prefix=: every key starts with it */
  /* How If-Match names an ETag: RFC 7232 quotes it (AWS), radosgw wants
   * bare hex.  Starts bare; flipped when the server refuses a condition
   * that names the object's current ETag.  Atomic.
   */
  bool quote_etags;
  /* This process's writer token (random hex), the prefix of the nonce
   * that every page PUT stores in its user metadata, and the count of
   * nonces given out (atomic).
   */
  char writer[2 * WRITER_TOKEN_BYTES + 1];
  uint64_t nonces;
  struct s3_leases *leases;     /* one writer per export */
  bool accept_unconditional;
  bool aborted;                 /* cancel found requests in flight: they
                                 * may still land, so leases are kept
                                 * (atomic) */
  pthread_mutex_t probe_lock;   /* guards probed */
  int probed;                   /* 0: not yet; 1: conditions honoured;
                                 * -1: not */
  bool no_delete_objects;       /* the server has no DeleteObjects: one
                                 * DELETE per key (atomic) */
};

struct s3_export {
  struct store_export base;
  char *name;
  char *prefix;                 /* ROOT/NAME/ (s3_store's root) */
  struct s3_etags etags;        /* of the pages known to be stored */
  bool fenced;                  /* a conflict was seen (atomic) */
  struct s3_lease *lease;       /* held while claimed (s3_claim) */
};

struct pages_ctx {
  struct s3_export *e;
  bool tombstones;              /* list tombstones, not pages */
  int (*fn) (void *opaque, uint32_t page);
  void *opaque;
  /* Instead of FN: list_page_versions's. */
  int (*versioned_fn) (void *opaque, uint32_t page, const char *version);
};

/* ---- Helpers of store-s3.c (see each one's comment there) ---- */

/* E's key for LEAF, or NULL after nbdkit_error. */
extern char *s3_store_export_key (struct s3_export *e, const char *leaf);

/* GET KEY: 1 if found, 0 if NoSuchKey, -1 on error. */
extern int s3_store_get_object (struct s3_store *s, const char *key,
                                void *buf, size_t len, size_t *got,
                                char etag[S3_HTTP_ETAG_MAX],
                                struct store_checksum *sum);

/* PUT KEY, exclusive with IF_NONE_MATCH (a 412 is EAGAIN).  0 or -1. */
extern int s3_store_put_object (struct s3_store *s, const char *key,
                                const void *buf, size_t len,
                                bool if_none_match, int64_t not_after);

/* List the objects and common prefixes under PREFIX.  0 or -1. */
extern int s3_store_list_objects (struct s3_store *s, const char *prefix,
                                  const char *delimiter,
                                  int (*object_fn) (void *opaque,
                                                    const struct s3_list_object
                                                    *obj),
                                  int (*prefix_fn) (void *opaque,
                                                    const char *prefix),
                                  void *opaque);

/* May a mutation of E start now (its lease)?  0 or -1. */
extern int s3_store_may_mutate (struct s3_export *e, int64_t *not_after);

/* s3_store_may_mutate, and E not fenced.  0 or -1. */
extern int s3_store_may_mutate_key (struct s3_export *e, const char *method,
                                    const char *key, int64_t *not_after);

/* The object callback of a listing of pages (OPAQUE a struct pages_ctx). */
extern int s3_store_page_object (void *opaque,
                                 const struct s3_list_object *obj);

/* List E's pages, or with TOMBSTONES its tombstones, into FN. */
extern int s3_store_list_page_objects (struct store_export *se,
                                       bool tombstones,
                                       int (*fn) (void *opaque,
                                                  uint32_t page),
                                       void *opaque);

/* The read_meta method (store.h). */
extern int s3_read_meta (struct store_export *se, struct store_meta *meta);

/* ---- Methods of store-s3-objects.c (contracts in store.h) ---- */

extern int s3_list_objects (struct store_export *se,
                            int (*fn) (void *opaque, const char *name,
                                       uint64_t size),
                            void *opaque);
extern int s3_put_object (struct store_export *se, const char *name,
                          const void *buf, size_t len, bool exclusive);
extern int s3_get_object (struct store_export *se, const char *name,
                          void *buf, size_t cap, size_t *len);
extern int s3_remove_object (struct store_export *se, const char *name);
extern int s3_guard_holder (struct store_export *se, char *buf, size_t len);
extern int s3_replace_meta (struct store_export *se,
                            const struct store_meta *meta);
extern int s3_remove_objects (struct store_export *se,
                              const char *const *names, size_t n);
extern int s3_remove_export (struct store_export *se);
extern int s3_check_guard (struct store_export *se);

/* ---- Methods of store-s3-snap.c (contracts in store.h) ---- */

extern int s3_put_tombstone (struct store_export *se, uint32_t page);
extern int s3_remove_tombstone (struct store_export *se, uint32_t page);
extern int s3_list_tombstones (struct store_export *se,
                               int (*fn) (void *opaque, uint32_t page),
                               void *opaque);
extern int s3_list_page_versions (struct store_export *se,
                                  int (*fn) (void *opaque, uint32_t page,
                                             const char *version),
                                  void *opaque);
extern int s3_copy_object (struct store_export *se, const char *name,
                           const char *version, uint64_t size,
                           struct store_export *sdst);

#endif /* NBDS3_STORE_S3_IMPL_H */
