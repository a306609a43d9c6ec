/* SPDX-License-Identifier: MIT
 *
 * The S3 page store (store-s3.c): export NAME lives under the key prefix
 * exports/NAME/ of one bucket, one object per stored page
 * (page-%08x.bin) plus its metadata (nbds3.meta).
 */

#ifndef NBDS3_STORE_S3_H
#define NBDS3_STORE_S3_H

#include "s3-config.h"
#include "store.h"

/* The S3 store for CFG (copied: the caller may free CFG's strings after
 * the call).  Initialises libcurl and libxml2, so call it before nbdkit
 * starts threads (.get_ready).  Contacts nothing: ready() probes the
 * bucket.  NULL after nbdkit_error.
 */
extern struct store *store_s3_new (const struct s3_config *cfg);

#endif /* NBDS3_STORE_S3_H */
