/* SPDX-License-Identifier: MIT
 *
 * The one runner of the Check unit tests: every check_<module>.c exports a
 * <module>_suite() constructor, listed here.  CK_FORK stays at Check's
 * default, so a crashing test fails alone.
 */

#include <config.h>

#include <stdlib.h>

#include <check.h>

#include "check_suites.h"

int
main (void)
{
  Suite *(*suites[]) (void) = {
    store_suite,
    store_fs_suite,
    s3_xml_suite,
    pagecache_suite,
    sigv4_suite,
    s3_suite,
    checksum_suite,
    escape_suite,
    text_suite,
    iszero_suite,
    zero_pages_suite,
    inflight_suite,
    aws_profile_suite,
    s3_settings_suite,
    s3_creds_suite,
    chain_suite,
    snapshot_suite,
  };
  SRunner *runner = srunner_create (NULL);
  int failed;

  for (size_t i = 0; i < sizeof suites / sizeof suites[0]; ++i)
    srunner_add_suite (runner, suites[i] ());
  srunner_run_all (runner, CK_NORMAL);
  failed = srunner_ntests_failed (runner);
  srunner_free (runner);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
