/* SPDX-License-Identifier: MIT
 *
 * nbds3 clone BASE NAME: a writable export NAME whose unwritten pages
 * read from BASE, a snapshot.  The work is store_clone_create's
 * (store/store-clone.c): O(1) requests, the back-reference clones/NAME
 * in BASE first, then NAME's metadata.  Refused: a BASE that does not
 * exist or is not read-only, a NAME that exists.
 */

#include <config.h>

#include <stdio.h>

#include <nbdkit-plugin.h>

#include "store-clone.h"
#include "store.h"
#include "tool.h"

static int
run_clone (const struct tool_args *args)
{
  const char *base = args->pos[0], *name = args->pos[1];
  struct store *s;
  struct tool_json j;

  for (int i = 0; i < 2; ++i)
    if (!store_export_name_valid (args->pos[i]))
      return tool_usage_error ("clone", "'%s' is not a valid export name "
                               "(1-200 bytes of UTF-8, no '/', no control "
                               "characters, no leading '.')", args->pos[i]);
  if ((s = tool_store ()) == NULL)
    return TOOL_PROBLEM;
  if (store_clone_create (s, base, name) == -1) {
    nbdkit_error ("clone: '%s' was not created in %s", name,
                  tool_store_where ());
    return TOOL_PROBLEM;
  }
  if (!args->json) {
    printf ("created clone '%s' of '%s' in %s\n", name, base,
            tool_store_where ());
    return TOOL_OK;
  }
  tool_json_init (&j);
  tool_json_begin_object (&j, NULL);
  tool_json_string (&j, "store", tool_store_where ());
  tool_json_string (&j, "clone", name);
  tool_json_string (&j, "base", base);
  tool_json_end_object (&j);
  return tool_json_finish (&j);
}

const struct tool_cmd tool_cmd_clone = {
  .name = "clone",
  .synopsis = "BASE NAME",
  .summary = "Make a writable export that reads from the snapshot BASE.",
  .min_args = 2,
  .max_args = 2,
  .writes = true,
  .run = run_clone,
};
