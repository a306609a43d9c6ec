/* SPDX-License-Identifier: MIT
 *
 * nbds3 info EXPORT: everything list says of one export, and what its
 * metadata says besides (format, checksums, a clone's base and the chain
 * of bases behind it, a snapshot's origin, read-only), its tombstones and
 * the clones it is the base of.  A base chain that is broken (a base
 * that does not exist, or a loop) is shown and makes the command exit 1.
 */

#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-plugin.h>

#include "store.h"
#include "tool.h"

/* A chain of bases longer than this is taken for a loop. */
#define MAX_CHAIN 64

struct info {
  struct store_meta meta;
  struct tool_stored stored;
  bool held;
  char holder[256];
  char *chain[MAX_CHAIN];       /* the bases, nearest first */
  size_t nchain;
  const char *broken;           /* why the chain ends early, or NULL */
};

/* Follow the bases of META into INFO's chain.  0, or -1 when out of
 * memory.
 */
static int
follow_bases (const char *name, struct info *info)
{
  static char why[512];
  struct store_meta meta = info->meta;

  while (meta.base[0]) {
    struct store_export *e;

    bool seen = strcmp (name, meta.base) == 0;

    for (size_t i = 0; !seen && i < info->nchain; ++i)
      seen = strcmp (info->chain[i], meta.base) == 0;
    if (seen) {
      snprintf (why, sizeof why, "the chain loops back to '%s'", meta.base);
      info->broken = why;
      return 0;
    }
    if (info->nchain == MAX_CHAIN) {
      snprintf (why, sizeof why, "more than %d bases", MAX_CHAIN);
      info->broken = why;
      return 0;
    }
    if ((info->chain[info->nchain] = strdup (meta.base)) == NULL) {
      nbdkit_error ("out of memory");
      return -1;
    }
    info->nchain++;
    if (tool_open_export (meta.base, true, &e, &meta, NULL) != TOOL_OK) {
      snprintf (why, sizeof why, "base '%s' cannot be read (see above)",
                info->chain[info->nchain - 1]);
      info->broken = why;
      return 0;
    }
    store_close_export (e);
  }
  return 0;
}

static void
print_text (const char *name, const struct info *info)
{
  const struct store_meta *m = &info->meta;
  char a[TOOL_SIZE_MAX], b[TOOL_SIZE_MAX];

  printf ("export:       %s\n", name);
  printf ("store:        %s\n", tool_store_where ());
  printf ("size:         %s (%" PRIu64 " bytes)\n",
          tool_format_size (m->size, a), m->size);
  printf ("page size:    %s\n", tool_format_size (m->page_size, a));
  printf ("format:       %" PRIu32 "%s\n", m->version,
          m->checksums ? ", every page carries a checksum" : "");
  printf ("pages:        %" PRIu64 " stored, %s\n", info->stored.pages,
          tool_format_size (info->stored.page_bytes, a));
  printf ("tombstones:   %" PRIu64 "\n", info->stored.tombstones);
  printf ("objects:      %" PRIu64 ", %s\n", info->stored.objects,
          tool_format_size (info->stored.bytes, b));
  printf ("guard:        %s%s\n", info->held ? "held by " : "free",
          info->held ? info->holder : "");
  printf ("read-only:    %s\n", m->read_only ? "yes (a snapshot)" : "no");
  printf ("snapshot of:  %s\n", m->snapshot_of[0] ? m->snapshot_of : "-");
  printf ("base chain:   ");
  if (info->nchain == 0)
    printf ("-");
  for (size_t i = 0; i < info->nchain; ++i)
    printf ("%s%s", i ? " -> " : "", info->chain[i]);
  printf ("%s%s\n", info->broken ? ": broken, " : "",
          info->broken ? info->broken : "");
  printf ("clones:       ");
  if (info->stored.nclones == 0)
    printf ("-");
  for (size_t i = 0; i < info->stored.nclones; ++i)
    printf ("%s%s", i ? ", " : "", info->stored.clones[i]);
  printf ("\n");
}

static int
print_json (const char *name, const struct info *info)
{
  const struct store_meta *m = &info->meta;
  struct tool_json j;

  tool_json_init (&j);
  tool_json_begin_object (&j, NULL);
  tool_json_string (&j, "name", name);
  tool_json_string (&j, "store", tool_store_where ());
  tool_json_u64 (&j, "size", m->size);
  tool_json_u64 (&j, "page-size", m->page_size);
  tool_json_u64 (&j, "version", m->version);
  tool_json_bool (&j, "checksums", m->checksums);
  tool_json_u64 (&j, "pages", info->stored.pages);
  tool_json_u64 (&j, "page-bytes", info->stored.page_bytes);
  tool_json_u64 (&j, "tombstones", info->stored.tombstones);
  tool_json_u64 (&j, "objects", info->stored.objects);
  tool_json_u64 (&j, "bytes", info->stored.bytes);
  tool_json_bool (&j, "held", info->held);
  tool_json_string (&j, "holder", info->held ? info->holder : NULL);
  tool_json_bool (&j, "read-only", m->read_only);
  tool_json_string (&j, "snapshot-of",
                    m->snapshot_of[0] ? m->snapshot_of : NULL);
  tool_json_string (&j, "base", m->base[0] ? m->base : NULL);
  tool_json_begin_array (&j, "base-chain");
  for (size_t i = 0; i < info->nchain; ++i)
    tool_json_string (&j, NULL, info->chain[i]);
  tool_json_end_array (&j);
  tool_json_string (&j, "base-chain-broken", info->broken);
  tool_json_begin_array (&j, "clones");
  for (size_t i = 0; i < info->stored.nclones; ++i)
    tool_json_string (&j, NULL, info->stored.clones[i]);
  tool_json_end_array (&j);
  tool_json_end_object (&j);
  return tool_json_finish (&j);
}

static int
run (const struct tool_args *args)
{
  const char *name = args->pos[0];
  struct info info = { .broken = NULL };
  struct store_export *e;
  bool err = false;
  int r;

  r = tool_open_export (name, true, &e, &info.meta, NULL);
  if (r != TOOL_OK)
    return r;
  if (tool_list_stored (e, &info.stored) == -1)
    err = true;
  else
    info.held = tool_guard_held (e, info.holder, sizeof info.holder, &err);
  store_close_export (e);
  if (!err && follow_bases (name, &info) == -1)
    err = true;
  if (err)
    r = TOOL_PROBLEM;
  else {
    if (args->json)
      r = print_json (name, &info);
    else
      print_text (name, &info);
    if (info.broken && r == TOOL_OK) {
      nbdkit_error ("export '%s': its base chain is broken: %s", name,
                    info.broken);
      r = TOOL_PROBLEM;
    }
  }
  tool_stored_free (&info.stored);
  for (size_t i = 0; i < info.nchain; ++i)
    free (info.chain[i]);
  return r;
}

const struct tool_cmd tool_cmd_info = {
  .name = "info",
  .synopsis = "EXPORT",
  .summary = "Show one export: metadata, pages, guard, bases, clones.",
  .min_args = 1, .max_args = 1,
  .run = run,
};
