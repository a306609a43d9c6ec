/* SPDX-License-Identifier: MIT
 *
 * nbds3 resize EXPORT SIZE [--force]: change the size an export's
 * metadata records, under its single-writer guard (refused while a
 * server holds it); a server started later serves the new size.
 * Growing needs nothing more.  Shrinking discards data and needs
 * --force: it first removes the pages and tombstones wholly beyond the
 * new end and zeros the tail of the page the new end cuts (so that a
 * later grow reads zeros there), then rewrites the metadata, so that an
 * interrupted shrink leaves the old size with nothing stored beyond the
 * new one.  A snapshot (read-only) is never resized; a clone, or an
 * export that clones are based on, is not shrunk (a clone's base would
 * show through a grown clone, and a base's pages are its clones' too).
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-plugin.h>

#include "store.h"
#include "text.h"
#include "tool.h"

struct beyond {
  uint32_t first;               /* the first page wholly beyond the end */
  struct tool_names names;      /* pages and tombstones from FIRST on */
  bool cut_stored;              /* the page the new end cuts is stored */
  uint32_t cut;                 /* ... its index */
};

static int
collect_beyond (void *opaque, const char *name, uint64_t size)
{
  struct beyond *b = opaque;
  uint32_t page;

  if (store_page_name_parse (name, &page)) {
    if (page == b->cut)
      b->cut_stored = true;
  }
  else if (!store_tombstone_name_parse (name, &page))
    return 0;
  return page >= b->first ? tool_names_add (&b->names, name) : 0;
}

/* Zero the bytes of page B->cut of E from OFFSET on, if it is stored
 * and they are not zero already.  0 or -1 after nbdkit_error.
 */
static int
zero_tail (struct store_export *e, const struct beyond *b, uint32_t len,
           uint32_t offset)
{
  char *buf;
  int r;

  if (!b->cut_stored || offset == 0)
    return 0;
  if ((buf = malloc (len)) == NULL) {
    nbdkit_error ("out of memory");
    return -1;
  }
  r = store_read_page (e, b->cut, buf, len);
  if (r == 1) {
    bool zero = true;

    for (uint32_t i = offset; zero && i < len; ++i)
      zero = buf[i] == 0;
    r = 0;
    if (!zero) {
      memset (buf + offset, 0, len - offset);
      r = store_write_page (e, b->cut, buf, len);
      if (r == 0)
        r = store_sync (e);
    }
  }
  free (buf);
  return r == -1 ? -1 : 0;
}

/* Shrink E, of metadata META, to SIZE: see the top of this file. */
static int
shrink (struct store_export *e, const struct store_meta *meta,
        uint64_t size)
{
  struct beyond b = {
    .first = (size + meta->page_size - 1) / meta->page_size,
    .cut = size / meta->page_size,
  };
  struct tool_stored stored;
  int r = TOOL_PROBLEM;

  if (tool_list_stored (e, &stored) == -1)
    return TOOL_PROBLEM;
  if (stored.nclones) {
    nbdkit_error ("resize: export '%s' is the base of %zu clone%s (the "
                  "first: '%s'), which read its pages: shrinking it would "
                  "change them.  Delete the clones first", e->name,
                  stored.nclones, stored.nclones == 1 ? "" : "s",
                  stored.clones[0]);
    tool_stored_free (&stored);
    return TOOL_PROBLEM;
  }
  tool_stored_free (&stored);
  if (store_list_objects (e, collect_beyond, &b) == 0 &&
      store_remove_objects (e, (const char *const *) b.names.v,
                            b.names.n) == 0 &&
      zero_tail (e, &b, meta->page_size, size % meta->page_size) == 0)
    r = TOOL_OK;
  nbdkit_debug ("resize: export '%s': %zu pages and tombstones beyond the "
                "new end removed", e->name, r == TOOL_OK ? b.names.n : 0);
  tool_names_free (&b.names);
  return r;
}

/* May E (META) be resized from its size to SIZE? */
static int
check (struct store_export *e, const struct store_meta *meta, uint64_t size,
       bool force)
{
  char from[TOOL_SIZE_MAX], to[TOOL_SIZE_MAX];

  tool_format_size (meta->size, from);
  tool_format_size (size, to);
  if (meta->read_only) {
    nbdkit_error ("resize: export '%s' is a snapshot (read-only): it is "
                  "never resized", e->name);
    return TOOL_PROBLEM;
  }
  if (size / meta->page_size > UINT32_MAX) {
    nbdkit_error ("resize: %s is more than 2^32 pages of export '%s' "
                  "(page size %" PRIu32 "): the largest size is %" PRIu64,
                  to, e->name, meta->page_size,
                  ((uint64_t) UINT32_MAX + 1) * meta->page_size - 1);
    return TOOL_PROBLEM;
  }
  if (size >= meta->size)
    return TOOL_OK;
  if (!force) {
    nbdkit_error ("resize: shrinking export '%s' from %s to %s discards "
                  "what it holds beyond %s: give --force to do it", e->name,
                  from, to, to);
    return TOOL_PROBLEM;
  }
  if (meta->base[0]) {
    nbdkit_error ("resize: export '%s' is a clone of '%s': a clone is not "
                  "shrunk (its base would show through if it grew again)",
                  e->name, meta->base);
    return TOOL_PROBLEM;
  }
  return TOOL_OK;
}

static int
run (const struct tool_args *args)
{
  const char *name = args->pos[0], *size_text = args->pos[1];
  char from[TOOL_SIZE_MAX], to[TOOL_SIZE_MAX];
  struct store_meta meta, now;
  struct store_export *e;
  uint64_t size;
  int r;

  if (text_parse_size (size_text, &size) == -1 || size == 0)
    return tool_usage_error ("resize", "resize: '%s' is not a size: use "
                             "decimal digits with at most one suffix, b, s "
                             "(512 bytes), k, M, G, T, P or E (powers of "
                             "1024), e.g. 64k, 4M, 2G; at least 1 byte and "
                             "at most 8E-1", size_text);
  r = tool_open_export (name, true, &e, &meta, NULL);
  if (r != TOOL_OK)
    return r;
  tool_format_size (meta.size, from);
  tool_format_size (size, to);
  now = meta;
  now.size = size;
  if ((r = check (e, &meta, size, args->force)) == TOOL_OK &&
      size != meta.size &&
      (r = tool_claim (e, "resize")) == TOOL_OK) {
    if (size < meta.size)
      r = shrink (e, &meta, size);
    if (r == TOOL_OK && store_replace_meta (e, &now) == -1)
      r = TOOL_PROBLEM;
  }
  store_close_export (e);
  if (r != TOOL_OK)
    return r;

  if (args->json) {
    struct tool_json j;

    tool_json_init (&j);
    tool_json_begin_object (&j, NULL);
    tool_json_string (&j, "resized", name);
    tool_json_u64 (&j, "old-size", meta.size);
    tool_json_u64 (&j, "size", size);
    tool_json_end_object (&j);
    return tool_json_finish (&j);
  }
  if (size == meta.size)
    printf ("export '%s' is %s already: nothing to change\n", name, to);
  else
    printf ("resized export '%s' from %s to %s\n", name, from, to);
  return TOOL_OK;
}

const struct tool_cmd tool_cmd_resize = {
  .name = "resize",
  .synopsis = "EXPORT SIZE [--force]",
  .summary = "Grow an export, or shrink it with --force.",
  .options = TOOL_OPT_FORCE,
  .min_args = 2, .max_args = 2,
  .writes = true,
  .run = run,
};
