/* SPDX-License-Identifier: MIT
 *
 * One writer per S3 export: the lease object exports/<export>/nbds3.lease
 * (store-s3-lease.c).  A server takes it before it writes an export,
 * renews it while it holds it, stops writing in time when it cannot, and
 * releases it when the export closes.  Another server takes a lease only
 * when it is released, or after watching it unchanged for lease-timeout
 * on its own monotonic clock (no clocks are compared across hosts), or
 * when told to break it.
 */

#ifndef NBDS3_STORE_S3_LEASE_H
#define NBDS3_STORE_S3_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "s3-config.h"

#define S3_LEASE_NAME "nbds3.lease"

struct s3_leases;               /* a store's: client, renewer, watches */
struct s3_lease;                /* one held lease */

/* The leases of a store for CFG (lease_timeout, break_lease, timeouts),
 * with WRITER, this process's writer token, and QUOTE_ETAGS, the store's
 * atomic choice of If-Match form.  Starts no thread yet.  NULL after
 * nbdkit_error.
 */
extern struct s3_leases *s3_leases_new (const struct s3_config *cfg,
                                        const char *writer,
                                        bool *quote_etags);

/* Stop renewing (releases are the closes' job), and free.  Every lease
 * must have been released.
 */
extern void s3_leases_free (struct s3_leases *l);

/* The shutdown deadline passed: stop renewing now, aborting a renewal in
 * flight, so that the releases at close need not wait for it.
 */
extern void s3_leases_halt (struct s3_leases *l);

/* Take the lease of EXPORT, whose object is KEY.  0 and *LEASE, or -1
 * after one nbdkit_error (EBUSY: another server holds it, and the
 * message says who and from when this server may take it over).
 */
extern int s3_lease_take (struct s3_leases *l, const char *export,
                          const char *key, struct s3_lease **lease);

/* Release LEASE (a conditional PUT of the released state) and free it;
 * only free it with KEEP: requests were aborted that may still land, so
 * a taker must wait lease-timeout.
 */
extern void s3_lease_release (struct s3_lease *lease, bool keep);

/* May a store mutation start now under LEASE?  0 and *NOT_AFTER, the
 * monotonic time (ns) after which no attempt of it may start; or -1 with
 * errno EIO after nbdkit_error: the lease could not be renewed in time,
 * or another server took it.
 */
extern int s3_lease_check (struct s3_lease *lease, int64_t *not_after);

/* Who holds the lease KEY, for the nbds3 tool: 1 and "HOLDER since
 * TAKEN" in BUF of LEN bytes, 0 if there is no lease or it is released,
 * -1 after nbdkit_error.  A lease whose holder is gone stays held until
 * a taker has watched it unchanged for lease-timeout: this cannot tell.
 */
extern int s3_lease_describe (struct s3_leases *l, const char *key,
                              char *buf, size_t len);

/* The export is gone (the tool removed it): stop renewing LEASE, delete
 * its object instead of releasing it, and free it.  0, or -1 after
 * nbdkit_error with LEASE still held (a later s3_lease_release releases
 * it as usual).
 */
extern int s3_lease_drop (struct s3_lease *lease);

#endif /* NBDS3_STORE_S3_LEASE_H */
