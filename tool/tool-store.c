/* SPDX-License-Identifier: MIT
 *
 * The tool's way to the store (tool.h): the one store the plugin's keys
 * name, made at the first use and freed at exit, and the helpers every
 * command uses on it: open an export with its metadata, take its guard,
 * add up what it holds, list the exports in order.  Every message names
 * the store (data-dir= or s3://BUCKET) and says what to do.
 */

#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <nbdkit-plugin.h>

#include "options.h"
#include "store-s3.h"
#include "store.h"
#include "tool.h"

static const struct tool_cmd *command;  /* the one that runs */
static struct store *store;     /* made by tool_store */

void
tool_store_init (const struct tool_cmd *cmd)
{
  command = cmd;
}

const char *
tool_store_where (void)
{
  static char where[4096 + 8];

  if (config.s3.bucket)
    snprintf (where, sizeof where, "s3://%s%s%s", config.s3.bucket,
              config.s3.prefix ? "/" : "",
              config.s3.prefix ? config.s3.prefix : "");
  else
    snprintf (where, sizeof where, "data-dir=%s", config.data_dir);
  return where;
}

struct store *
tool_store (void)
{
  struct stat st;

  if (store)
    return store;
  if (config.s3.bucket)
    store = store_s3_new (&config.s3);
  else if (!command->creates && stat (config.data_dir, &st) == -1) {
    nbdkit_error ("data-dir=%s: %m: no store there; give the data-dir= "
                  "(or bucket=) the server uses", config.data_dir);
    return NULL;
  }
  else
    store = store_fs_new (config.data_dir);
  if (store == NULL)
    return NULL;
  /* The S3 store's probe of bucket and credentials; the FS store's
   * check that pages can be written, only when the command writes.
   */
  if ((config.s3.bucket || command->writes) && store_ready (store) == -1) {
    store_free (store);
    store = NULL;
  }
  return store;
}

void
tool_store_free (void)
{
  if (store)
    store_free (store);
  store = NULL;
}

int
tool_open_export (const char *name, bool must_exist, struct store_export **e,
                  struct store_meta *meta, bool *found)
{
  struct store *s;
  int r;

  *e = NULL;
  if (!store_export_name_valid (name))
    return tool_usage_error (NULL, "'%s' is not a valid export name (1-200 "
                             "bytes of UTF-8, no '/', no control "
                             "characters, no leading '.')", name);
  if ((s = tool_store ()) == NULL || (*e = store_open_export (s, name)) == NULL)
    return TOOL_PROBLEM;
  r = store_read_meta (*e, meta);
  if (found)
    *found = r == 1;
  if (r == 0 && must_exist) {
    nbdkit_error ("export '%s' does not exist in %s (nbds3 list shows the "
                  "exports there; check the store's keys)", name,
                  tool_store_where ());
    r = -1;
  }
  if (r == -1) {
    store_close_export (*e);
    *e = NULL;
    return TOOL_PROBLEM;
  }
  return TOOL_OK;
}

int
tool_claim (struct store_export *e, const char *cmd)
{
  if (store_claim (e) >= 0)
    return TOOL_OK;
  if (errno == EBUSY)
    nbdkit_error ("%s: export '%s' is held by a server (see above), so it "
                  "is left as it is: stop that server first%s", cmd, e->name,
                  config.s3.bucket ? " (if it is gone for sure, "
                  "break-lease=true takes its lease now)" : "");
  else
    nbdkit_error ("%s: cannot take the single-writer guard of export '%s' "
                  "(see above): it is left as it is", cmd, e->name);
  return TOOL_PROBLEM;
}

static int compare_names (const void *a, const void *b);

static int
add_object (void *opaque, const char *name, uint64_t size)
{
  struct tool_stored *stored = opaque;
  const size_t dir_len = strlen (TOOL_CLONES_DIR);
  uint32_t page;

  stored->objects++;
  stored->bytes += size;
  if (store_page_name_parse (name, &page)) {
    stored->pages++;
    stored->page_bytes += size;
  }
  else if (store_tombstone_name_parse (name, &page))
    stored->tombstones++;
  else if (strncmp (name, TOOL_CLONES_DIR, dir_len) == 0 &&
           store_export_name_valid (name + dir_len)) {
    char **v = realloc (stored->clones,
                        (stored->nclones + 1) * sizeof *v);

    if (v == NULL || (v[stored->nclones] = strdup (name + dir_len)) == NULL) {
      stored->clones = v ? v : stored->clones;
      nbdkit_error ("out of memory");
      return -1;
    }
    stored->clones = v;
    stored->nclones++;
  }
  return 0;
}

int
tool_list_stored (struct store_export *e, struct tool_stored *stored)
{
  memset (stored, 0, sizeof *stored);
  if (store_list_objects (e, add_object, stored) == -1)
    return -1;
  qsort (stored->clones, stored->nclones, sizeof *stored->clones,
         compare_names);
  return 0;
}

void
tool_stored_free (struct tool_stored *stored)
{
  for (size_t i = 0; i < stored->nclones; ++i)
    free (stored->clones[i]);
  free (stored->clones);
  stored->clones = NULL;
  stored->nclones = 0;
}

bool
tool_guard_held (struct store_export *e, char *buf, size_t len, bool *err)
{
  int r = store_guard_holder (e, buf, len);

  if (r == -1)
    *err = true;
  return r == 1;
}

int
tool_names_add (struct tool_names *names, const char *name)
{
  if (names->n == names->cap) {
    size_t cap = names->cap ? 2 * names->cap : 16;
    char **v = realloc (names->v, cap * sizeof *v);

    if (v == NULL) {
      nbdkit_error ("out of memory");
      return -1;
    }
    names->v = v;
    names->cap = cap;
  }
  if ((names->v[names->n] = strdup (name)) == NULL) {
    nbdkit_error ("out of memory");
    return -1;
  }
  names->n++;
  return 0;
}

void
tool_names_free (struct tool_names *names)
{
  for (size_t i = 0; i < names->n; ++i)
    free (names->v[i]);
  free (names->v);
  memset (names, 0, sizeof *names);
}

static int
add_name (void *opaque, const char *name)
{
  return tool_names_add (opaque, name);
}

static int
compare_names (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

int
tool_for_each_export (int (*fn) (void *opaque, const char *name),
                      void *opaque)
{
  struct tool_names names = { NULL, 0, 0 };
  struct store *s = tool_store ();
  int r = -1;

  if (s && store_list_exports (s, add_name, &names) == 0) {
    qsort (names.v, names.n, sizeof *names.v, compare_names);
    r = 0;
    for (size_t i = 0; r == 0 && i < names.n; ++i)
      r = fn (opaque, names.v[i]);
  }
  tool_names_free (&names);
  return r;
}
