/* SPDX-License-Identifier: MIT
 *
 * nbds3 list: every export of the store (those with metadata), in name
 * order, with its size, page size, the pages it holds and who holds its
 * single-writer guard.  One export whose metadata cannot be read does not
 * hide the others: it is listed with the error, and the command exits 1.
 */

#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-plugin.h>

#include "store.h"
#include "tool.h"

struct row {
  char *name;
  bool ok;                      /* meta and stored are known */
  struct store_meta meta;
  struct tool_stored stored;
  bool held;
  char holder[256];
};

struct rows {
  struct row *v;
  size_t n, cap;
};

/* Open export NAME and fill in its row. */
static int
add_row (void *opaque, const char *name)
{
  struct rows *rows = opaque;
  struct store_export *e;
  struct row *row;
  bool err = false;

  if (rows->n == rows->cap) {
    size_t cap = rows->cap ? 2 * rows->cap : 16;
    struct row *v = realloc (rows->v, cap * sizeof *v);

    if (v == NULL) {
      nbdkit_error ("out of memory");
      return -1;
    }
    rows->v = v;
    rows->cap = cap;
  }
  row = &rows->v[rows->n];
  memset (row, 0, sizeof *row);
  if ((row->name = strdup (name)) == NULL) {
    nbdkit_error ("out of memory");
    return -1;
  }
  rows->n++;
  if (tool_open_export (name, true, &e, &row->meta, NULL) != TOOL_OK)
    return 0;                   /* reported; listed as damaged */
  row->ok = tool_list_stored (e, &row->stored) == 0;
  tool_stored_free (&row->stored);      /* (only the counts are shown) */
  row->held = tool_guard_held (e, row->holder, sizeof row->holder, &err);
  row->ok = row->ok && !err;
  store_close_export (e);
  return 0;
}

static int
print_json (const struct rows *rows)
{
  struct tool_json j;

  tool_json_init (&j);
  tool_json_begin_object (&j, NULL);
  tool_json_string (&j, "store", tool_store_where ());
  tool_json_begin_array (&j, "exports");
  for (size_t i = 0; i < rows->n; ++i) {
    const struct row *row = &rows->v[i];

    tool_json_begin_object (&j, NULL);
    tool_json_string (&j, "name", row->name);
    tool_json_bool (&j, "ok", row->ok);
    if (row->ok) {
      tool_json_u64 (&j, "size", row->meta.size);
      tool_json_u64 (&j, "page-size", row->meta.page_size);
      tool_json_u64 (&j, "pages", row->stored.pages);
      tool_json_u64 (&j, "page-bytes", row->stored.page_bytes);
      tool_json_u64 (&j, "tombstones", row->stored.tombstones);
      tool_json_bool (&j, "held", row->held);
      tool_json_string (&j, "holder", row->held ? row->holder : NULL);
    }
    tool_json_end_object (&j);
  }
  tool_json_end_array (&j);
  tool_json_end_object (&j);
  return tool_json_finish (&j);
}

static void
print_text (const struct rows *rows)
{
  size_t width = strlen ("EXPORT");

  for (size_t i = 0; i < rows->n; ++i)
    if (tool_text_width (rows->v[i].name) > width)
      width = tool_text_width (rows->v[i].name);
  tool_print_padded ("EXPORT", width);
  printf (" %8s %9s %8s %8s  %s\n", "SIZE", "PAGE-SIZE", "PAGES", "STORED",
          "GUARD");
  for (size_t i = 0; i < rows->n; ++i) {
    const struct row *row = &rows->v[i];
    char size[TOOL_SIZE_MAX], page_size[TOOL_SIZE_MAX], bytes[TOOL_SIZE_MAX];

    tool_print_padded (row->name, width);
    if (!row->ok) {
      printf (" (cannot be read: see the error above)\n");
      continue;
    }
    printf (" %8s %9s %8" PRIu64 " %8s  %s%s\n",
            tool_format_size (row->meta.size, size),
            tool_format_size (row->meta.page_size, page_size),
            row->stored.pages,
            tool_format_size (row->stored.page_bytes, bytes),
            row->held ? "held by " : "free", row->held ? row->holder : "");
  }
}

static int
run (const struct tool_args *args)
{
  struct rows rows = { NULL, 0, 0 };
  int r = TOOL_OK;

  if (tool_for_each_export (add_row, &rows) == -1)
    r = TOOL_PROBLEM;
  else {
    if (args->json)
      r = print_json (&rows);
    else
      print_text (&rows);
    for (size_t i = 0; i < rows.n; ++i)
      if (!rows.v[i].ok && r == TOOL_OK)
        r = TOOL_PROBLEM;
  }
  for (size_t i = 0; i < rows.n; ++i)
    free (rows.v[i].name);
  free (rows.v);
  return r;
}

const struct tool_cmd tool_cmd_list = {
  .name = "list",
  .synopsis = "",
  .summary = "List the exports: sizes, stored pages, guard.",
  .min_args = 0, .max_args = 0,
  .run = run,
};
