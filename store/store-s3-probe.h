/* SPDX-License-Identifier: MIT
 *
 * Does an S3 server honour conditional writes (store-s3-probe.c)?  nbds3
 * relies on them: every page PUT and the lease are conditional.
 */

#ifndef NBDS3_STORE_S3_PROBE_H
#define NBDS3_STORE_S3_PROBE_H

#include "s3-http.h"

/* Probe the server of H with the object KEY (created and removed): 1 if
 * it refuses both If-None-Match: * on an existing object and If-Match
 * with a wrong ETag, 0 if it does not, -1 after nbdkit_error (the probe
 * could not run).  Each finding is one debug line; conditional DELETE is
 * probed and reported too, but not required (radosgw 16 ignores it).
 */
extern int s3_probe_conditional (struct s3_http *h, const char *key);

#endif /* NBDS3_STORE_S3_PROBE_H */
