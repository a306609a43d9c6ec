/* SPDX-License-Identifier: MIT
 *
 * nbds3 create EXPORT --size=SIZE [--page-size=SIZE]: write a new
 * export's metadata (format 2, checksums required, the page size given
 * or the plugin's default) before any client writes it, as a server does
 * on an export's first write, under the export's single-writer guard.
 * Refused if the export exists, or if pages or tombstones are stored
 * under its name without metadata (an interrupted delete: they would
 * show through).  A server started later serves the recorded size (and
 * must be started with the same page-size=).
 */

#include <config.h>

#include <inttypes.h>
#include <stdio.h>

#include <nbdkit-plugin.h>

#include "options.h"
#include "store.h"
#include "tool.h"

/* Refuse to create E over stored pages or tombstones. */
static int
check_empty (struct store_export *e)
{
  struct tool_stored stored;

  if (tool_list_stored (e, &stored) == -1)
    return TOOL_PROBLEM;
  tool_stored_free (&stored);
  if (stored.pages == 0 && stored.tombstones == 0)
    return TOOL_OK;
  nbdkit_error ("create: export '%s' has no metadata, but %" PRIu64
                " pages and %" PRIu64 " tombstones are stored under its "
                "name (what an interrupted delete leaves): remove them "
                "first with nbds3 delete '%s'", e->name, stored.pages,
                stored.tombstones, e->name);
  return TOOL_PROBLEM;
}

static int
run (const struct tool_args *args)
{
  const char *name = args->pos[0];
  const struct store_meta meta = {
    .version = STORE_META_VERSION_PLAIN,
    .size = config.size,
    .page_size = config.page_size,
    .checksums = true,
  };
  char size[TOOL_SIZE_MAX], page_size[TOOL_SIZE_MAX];
  struct store_meta now;
  struct store_export *e;
  bool found;
  int r;

  if (!config.size_given)
    return tool_usage_error ("create", "create needs the size of the new "
                             "export: --size=SIZE (e.g. --size=2G)");
  r = tool_open_export (name, false, &e, &now, &found);
  if (r != TOOL_OK)
    return r;
  if (found) {
    nbdkit_error ("create: export '%s' exists already in %s (size %s, page "
                  "size %s): nbds3 resize changes its size, nbds3 delete "
                  "removes it", name, tool_store_where (),
                  tool_format_size (now.size, size),
                  tool_format_size (now.page_size, page_size));
    r = TOOL_PROBLEM;
  }
  else if ((r = tool_claim (e, "create")) == TOOL_OK &&
           (r = check_empty (e)) == TOOL_OK &&
           store_write_meta (e, &meta) == -1)
    r = TOOL_PROBLEM;
  store_close_export (e);
  if (r != TOOL_OK)
    return r;

  tool_format_size (meta.size, size);
  tool_format_size (meta.page_size, page_size);
  if (args->json) {
    struct tool_json j;

    tool_json_init (&j);
    tool_json_begin_object (&j, NULL);
    tool_json_string (&j, "created", name);
    tool_json_string (&j, "store", tool_store_where ());
    tool_json_u64 (&j, "size", meta.size);
    tool_json_u64 (&j, "page-size", meta.page_size);
    tool_json_end_object (&j);
    return tool_json_finish (&j);
  }
  printf ("created export '%s' in %s: size %s, page size %s (serve it with "
          "page-size=%s)\n", name, tool_store_where (), size, page_size,
          page_size);
  return TOOL_OK;
}

const struct tool_cmd tool_cmd_create = {
  .name = "create",
  .synopsis = "EXPORT --size=SIZE [--page-size=SIZE]",
  .summary = "Create an export of SIZE before any client writes it.",
  .options = TOOL_OPT_SIZE | TOOL_OPT_PAGE_SIZE,
  .min_args = 1, .max_args = 1,
  .writes = true,
  .creates = true,
  .run = run,
};
