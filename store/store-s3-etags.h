/* SPDX-License-Identifier: MIT
 *
 * The S3 store's ETag table (store-s3-etags.c): per open export, the ETag
 * of every page it knows to be stored (from the listing, GETs, PUTs and
 * HEADs), kept bare (without quotes), in memory proportional to the
 * stored pages.  Thread-safe: every call takes the table's lock.
 */

#ifndef NBDS3_STORE_S3_ETAGS_H
#define NBDS3_STORE_S3_ETAGS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "s3-http.h"

struct etag_entry;

struct s3_etags {
  pthread_mutex_t lock;         /* guards everything below */
  struct etag_entry *slots;     /* open addressing, linear probing */
  size_t n, cap;                /* cap: 0 or a power of 2 */
};

extern void s3_etags_init (struct s3_etags *t);
extern void s3_etags_free (struct s3_etags *t);

/* The ETag of PAGE, bare, into BARE: true if PAGE is known to be
 * stored.
 */
extern bool s3_etags_get (struct s3_etags *t, uint32_t page,
                          char bare[S3_HTTP_ETAG_MAX]);

/* Record that PAGE is stored with ETAG (as the server sent it, quotes or
 * not).  0, or -1 after nbdkit_error.
 */
extern int s3_etags_set (struct s3_etags *t, uint32_t page,
                         const char *etag);

/* Forget PAGE (deleted, or found absent). */
extern void s3_etags_remove (struct s3_etags *t, uint32_t page);

/* ETAG without its quotes, into OUT. */
extern void s3_etag_bare (const char *etag, char out[S3_HTTP_ETAG_MAX]);

#endif /* NBDS3_STORE_S3_ETAGS_H */
