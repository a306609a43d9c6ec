/* SPDX-License-Identifier: MIT
 *
 * nbds3 delete EXPORT: remove an export and everything stored under it,
 * under its single-writer guard (refused while a server holds it), and
 * refused while it is the base of a clone (a clones/<clone> object under
 * it).  Every object goes first (store_remove_objects: batches of
 * DeleteObjects on S3), then the metadata and the guard
 * (store_remove_export), so an interrupted delete leaves an export that
 * still lists and can be deleted again.  A name without metadata whose
 * prefix still holds objects (a delete interrupted between the
 * metadata and the guard) is cleaned up too.  If the export was a clone,
 * its back-reference clones/<export> is then removed from its base.
 */

#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-plugin.h>

#include "store-s3-lease.h"
#include "store.h"
#include "tool.h"

struct listing {
  struct tool_names names;      /* to remove with remove_objects */
  struct tool_names clones;     /* clones/<clone> objects */
  uint64_t objects;             /* everything listed but the guard */
};

static int
collect (void *opaque, const char *name, uint64_t size)
{
  struct listing *l = opaque;
  const size_t dir_len = strlen (TOOL_CLONES_DIR);

  /* The guard (ours now) and the metadata are remove_export's, last. */
  if (strcmp (name, S3_LEASE_NAME) == 0 ||
      strcmp (name, STORE_HOLDER_NAME) == 0)
    return 0;
  l->objects++;
  if (strncmp (name, TOOL_CLONES_DIR, dir_len) == 0)
    return tool_names_add (&l->clones, name + dir_len);
  if (strcmp (name, STORE_META_NAME) == 0)
    return 0;
  return tool_names_add (&l->names, name);
}

/* Remove the back-reference of the clone NAME from its base BASE.  A
 * base that is gone is no error.
 */
static int
unlink_from_base (const char *name, const char *base)
{
  struct store_export *e;
  struct store_meta meta;
  char ref[sizeof TOOL_CLONES_DIR + STORE_EXPORT_NAME_MAX];
  int r;

  snprintf (ref, sizeof ref, TOOL_CLONES_DIR "%s", name);
  r = tool_open_export (base, false, &e, &meta, NULL);
  if (r != TOOL_OK)
    return r;
  r = store_remove_object (e, ref) == 0 ? TOOL_OK : TOOL_PROBLEM;
  store_close_export (e);
  if (r != TOOL_OK)
    nbdkit_error ("delete: export '%s' is deleted, but its base '%s' "
                  "still names it (%s): remove that object by hand", name,
                  base, ref);
  return r;
}

/* Whether the back-reference clones/NAME is stale: no export NAME exists
 * and none is being made (its guard is free: a clone, and a snapshot of
 * a clone, holds its own guard from before it creates its back-reference
 * until its metadata exists).  What a clone, snapshot or delete killed
 * in between leaves.
 */
static bool
ref_is_stale (const char *name)
{
  struct store_export *c;
  struct store_meta meta;
  struct tool_stored stored;
  bool found, stale = false;

  if (tool_open_export (name, false, &c, &meta, &found) != TOOL_OK)
    return false;
  if (!found && tool_list_stored (c, &stored) == 0) {
    tool_stored_free (&stored);
    if (store_claim (c) >= 0)
      stale = store_read_meta (c, &meta) == 0;
    /* The guard just taken is all there is of NAME: it goes too. */
    if (stale && stored.objects == 0)
      store_remove_export (c);
  }
  store_close_export (c);
  return stale;
}

/* Remove from E, and from CLONES, the stale back-references.  0, or -1
 * after nbdkit_error.
 */
static int
drop_stale_refs (struct store_export *e, struct tool_names *clones)
{
  char ref[sizeof TOOL_CLONES_DIR + STORE_EXPORT_NAME_MAX];
  size_t kept = 0;

  for (size_t i = 0; i < clones->n; ++i) {
    if (!ref_is_stale (clones->v[i])) {
      clones->v[kept++] = clones->v[i];
      continue;
    }
    snprintf (ref, sizeof ref, TOOL_CLONES_DIR "%s", clones->v[i]);
    if (store_remove_object (e, ref) == -1)
      return -1;
    fprintf (stderr, "nbds3: delete: removed %s of export '%s': no export "
             "'%s' exists or is being made (an interrupted clone, "
             "snapshot or delete left it)\n", ref, e->name, clones->v[i]);
    free (clones->v[i]);
  }
  clones->n = kept;
  return 0;
}

/* Delete E, whose metadata META exists if FOUND. */
static int
delete (struct store_export *e, const struct store_meta *meta, bool found,
        struct listing *l)
{
  int r;

  if (store_list_objects (e, collect, l) == -1)
    return TOOL_PROBLEM;
  if (drop_stale_refs (e, &l->clones) == -1)
    return TOOL_PROBLEM;
  if (l->clones.n) {
    nbdkit_error ("delete: export '%s' is the base of %zu clone%s (the "
                  "first: '%s'), which read its pages: delete the clones "
                  "first", e->name, l->clones.n, l->clones.n == 1 ? "" : "s",
                  l->clones.v[0]);
    return TOOL_PROBLEM;
  }
  if (store_remove_objects (e, (const char *const *) l->names.v,
                            l->names.n) == -1 ||
      store_remove_export (e) == -1) {
    nbdkit_error ("delete: export '%s' is not wholly deleted (see above)%s: "
                  "run nbds3 delete again", e->name,
                  found ? "; it still lists" : "");
    return TOOL_PROBLEM;
  }
  r = TOOL_OK;
  if (found && meta->base[0])
    r = unlink_from_base (e->name, meta->base);
  return r;
}

static int
run (const struct tool_args *args)
{
  const char *name = args->pos[0];
  struct listing l = { .objects = 0 };
  struct store_meta meta;
  struct tool_stored stored;
  struct store_export *e;
  bool found;
  int r;

  r = tool_open_export (name, false, &e, &meta, &found);
  if (r != TOOL_OK)
    return r;
  /* Nothing to delete: said before the guard, which on S3 is an object. */
  if (!found && (r = tool_list_stored (e, &stored)) == 0) {
    tool_stored_free (&stored);
    if (stored.objects == 0) {
      nbdkit_error ("delete: export '%s' does not exist in %s (nbds3 list "
                    "shows the exports there)", name, tool_store_where ());
      r = TOOL_PROBLEM;
    }
  }
  else if (!found)
    r = TOOL_PROBLEM;
  if (r == TOOL_OK && (r = tool_claim (e, "delete")) == TOOL_OK)
    r = delete (e, &meta, found, &l);
  store_close_export (e);
  tool_names_free (&l.names);
  tool_names_free (&l.clones);
  if (r != TOOL_OK)
    return r;

  if (args->json) {
    struct tool_json j;

    tool_json_init (&j);
    tool_json_begin_object (&j, NULL);
    tool_json_string (&j, "deleted", name);
    tool_json_bool (&j, "existed", found);
    tool_json_u64 (&j, "objects", l.objects);
    tool_json_end_object (&j);
    return tool_json_finish (&j);
  }
  printf ("deleted %s '%s' from %s: %" PRIu64 " objects removed\n",
          found ? "export" : "what was left of export", name,
          tool_store_where (), l.objects);
  return TOOL_OK;
}

const struct tool_cmd tool_cmd_delete = {
  .name = "delete",
  .synopsis = "EXPORT",
  .summary = "Remove an export and all it stores.",
  .min_args = 1, .max_args = 1,
  .writes = true,
  .run = run,
};
