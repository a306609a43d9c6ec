/* SPDX-License-Identifier: MIT
 *
 * nbds3 snapshot EXPORT NAME: make NAME a read-only, crash-consistent
 * point-in-time copy of EXPORT (store/store-snap-take.c does it), even
 * while a server writes EXPORT, and say what was copied by whom and how
 * long the point took.  The server holding EXPORT is given 2 ×
 * lease-timeout to answer on S3, STORE_SNAP_FS_TIMEOUT_MS on FS.
 */

#include <config.h>

#include <inttypes.h>
#include <stdio.h>

#include <nbdkit-plugin.h>

#include "options.h"
#include "store-snap.h"
#include "tool.h"

static unsigned
holder_timeout_ms (void)
{
  if (config.s3.bucket)
    return 2 * config.s3.lease_timeout * 1000;
  return STORE_SNAP_FS_TIMEOUT_MS;
}

static int
print_json (const char *export, const char *name,
            const struct store_snap_report *rep)
{
  struct tool_json j;

  tool_json_init (&j);
  tool_json_begin_object (&j, NULL);
  tool_json_string (&j, "export", export);
  tool_json_string (&j, "snapshot", name);
  tool_json_bool (&j, "held", rep->holder);
  tool_json_u64 (&j, "pages", rep->pages);
  tool_json_u64 (&j, "tombstones", rep->tombstones);
  tool_json_u64 (&j, "copied-by-tool", rep->copied_by_tool);
  tool_json_u64 (&j, "copied-by-holder", rep->copied_by_holder);
  tool_json_u64 (&j, "point-ms", rep->point_ms);
  tool_json_u64 (&j, "wait-ms", rep->wait_ms);
  tool_json_u64 (&j, "point-known-at-ms", rep->point_known_at);
  tool_json_u64 (&j, "total-ms", rep->total_ms);
  tool_json_end_object (&j);
  return tool_json_finish (&j);
}

static void
print_text (const char *export, const char *name,
            const struct store_snap_report *rep)
{
  printf ("snapshot '%s' of export '%s': %" PRIu64 " pages", name, export,
          rep->pages);
  if (rep->tombstones)
    printf (" and %" PRIu64 " tombstones", rep->tombstones);
  printf (", %" PRIu64 " copied by nbds3, %" PRIu64 " by the server before "
          "it changed them\n", rep->copied_by_tool, rep->copied_by_holder);
  if (rep->holder)
    printf ("the export is held by a server: it recorded the point in %"
            PRId64 " ms, %" PRId64 " ms after the request\n", rep->point_ms,
            rep->wait_ms);
  else
    printf ("no server held the export: nbds3 took its guard and recorded "
            "the point in %" PRId64 " ms\n", rep->point_ms);
  printf ("took %" PRId64 " ms\n", rep->total_ms);
}

static int
run (const struct tool_args *args)
{
  const char *export = args->pos[0], *name = args->pos[1];
  struct store_snap_report rep;
  int r;
  struct store *s = tool_store ();

  if (s == NULL)
    return TOOL_PROBLEM;
  if (!store_export_name_valid (name) || !store_export_name_valid (export))
    return tool_usage_error ("snapshot", "'%s' is not a valid export name",
                             store_export_name_valid (name) ? export : name);
  if (store_snap_take (s, export, name, holder_timeout_ms (),
                       config.s3.break_lease, &rep) == -1) {
    nbdkit_error ("snapshot: no snapshot '%s' of export '%s' was made",
                  name, export);
    return TOOL_PROBLEM;
  }
  if (args->json)
    r = print_json (export, name, &rep);
  else {
    print_text (export, name, &rep);
    r = tool_flush_stdout ();
  }
  /* Made, but its server keeps copying: said above; a problem. */
  return rep.not_withdrawn ? TOOL_PROBLEM : r;
}

const struct tool_cmd tool_cmd_snapshot = {
  .name = "snapshot",
  .synopsis = "EXPORT NAME",
  .summary = "Make NAME a read-only point-in-time copy of EXPORT.",
  .min_args = 2, .max_args = 2,
  .writes = true,
  .run = run,
};
