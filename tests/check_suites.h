/* SPDX-License-Identifier: MIT
 *
 * The suite constructors of the unit tests, one per check_<module>.c.
 */

#ifndef NBDS3_CHECK_SUITES_H
#define NBDS3_CHECK_SUITES_H

#include <check.h>

extern Suite *store_suite (void);
extern Suite *store_fs_suite (void);
extern Suite *s3_xml_suite (void);
extern Suite *pagecache_suite (void);
extern Suite *sigv4_suite (void);
extern Suite *s3_suite (void);
extern Suite *checksum_suite (void);
extern Suite *escape_suite (void);
extern Suite *text_suite (void);
extern Suite *iszero_suite (void);
extern Suite *zero_pages_suite (void);
extern Suite *inflight_suite (void);
extern Suite *aws_profile_suite (void);
extern Suite *s3_settings_suite (void);
extern Suite *s3_creds_suite (void);
extern Suite *chain_suite (void);
extern Suite *snapshot_suite (void);

#endif /* NBDS3_CHECK_SUITES_H */
