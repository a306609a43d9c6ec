/* SPDX-License-Identifier: MIT
 *
 * Creating a clone (store-clone.h), in the store layer so that the tool
 * (nbds3 clone) and the unit tests share it.  It costs O(1) requests,
 * whatever the base's size: no page is read or copied.
 *
 * The races with a delete of the base: the clone holds the base's guard
 * (FS: its flock; S3: its lease) from the check that the base exists
 * until the back-reference clones/NAME exists (an exclusive create, so
 * two clones of one name cannot both succeed), and a delete of the base
 * lists clones/ while holding that guard, so the two never interleave:
 * a delete either sees the back-reference and refuses, or has deleted
 * the base before the clone checks it.  The back-reference is created
 * before the clone's metadata, so a crash in between leaves only a
 * back-reference without a clone.  The clone's own guard is held from
 * before the back-reference until the metadata exists, so a delete of
 * the base tells such a leftover (no metadata, guard free: it removes it)
 * from a clone being created (guard held: it refuses).
 */

#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <nbdkit-plugin.h>

#include "store-clone.h"

/* Check that NAME may become a clone of BASE: both names valid and
 * different, BASE a snapshot (read-only), NAME not an export yet.
 * BASE_META gets BASE's metadata.  0 or -1 after nbdkit_error.
 */
static int
check_clone (struct store_export *b, struct store_export *c,
             const char *base, const char *name,
             struct store_meta *base_meta)
{
  struct store_meta meta;
  int r = store_read_meta (b, base_meta);

  if (r == -1)
    return -1;
  if (r == 0) {
    nbdkit_error ("cannot clone '%s': no such export", base);
    errno = ENOENT;
    return -1;
  }
  if (!base_meta->read_only) {
    nbdkit_error ("cannot clone '%s': it is not read-only; a clone's base "
                  "must be a snapshot (nbds3 snapshot %s NAME), which "
                  "nothing writes", base, base);
    errno = EINVAL;
    return -1;
  }
  r = store_read_meta (c, &meta);
  if (r == -1)
    return -1;
  if (r == 1) {
    nbdkit_error ("cannot create clone '%s': an export of that name "
                  "exists", name);
    errno = EEXIST;
    return -1;
  }
  return 0;
}

/* Write the metadata of clone C of BASE (BASE_META), under C's guard.
 * 0 or -1 after nbdkit_error.
 */
static int
write_clone_meta (struct store_export *c, const char *base,
                  const struct store_meta *base_meta)
{
  struct store_meta meta = {
    .version = STORE_META_VERSION,
    .size = base_meta->size,
    .page_size = base_meta->page_size,
    .checksums = true,
  };

  snprintf (meta.base, sizeof meta.base, "%s", base);
  return store_write_meta (c, &meta);
}

/* Make NAME a clone of BASE, both open (B and C). */
static int
create_clone (struct store_export *b, struct store_export *c,
              const char *base, const char *name)
{
  char ref[sizeof STORE_CLONE_REF_DIR + STORE_EXPORT_NAME_MAX + 1];
  struct store_meta base_meta;
  int err;

  /* The clone's guard first, held until its metadata exists: a delete of
   * the base that finds the back-reference without a clone takes it for
   * stale (a crash left it) only if it can take this guard.
   */
  if (store_claim (c) == -1)
    return -1;
  /* The base's guard, which a delete of the base takes before it looks
   * for clones: so the base is not deleted between the check and the
   * back-reference (no server ever holds a read-only export).
   */
  if (store_claim (b) == -1) {
    nbdkit_error ("cannot clone '%s' now: its guard is held (is it being "
                  "deleted?)", base);
    return -1;
  }
  if (check_clone (b, c, base, name, &base_meta) == -1)
    return -1;
  snprintf (ref, sizeof ref, STORE_CLONE_REF_DIR "/%s", name);
  if (store_put_object (b, ref, "", 0, true) == -1) {
    if (errno == EEXIST)
      nbdkit_error ("cannot create clone '%s' of '%s': '%s' already has a "
                    "clone of that name (or one is being created)", name,
                    base, base);
    return -1;
  }
  if (write_clone_meta (c, base, &base_meta) == 0)
    return 0;
  err = errno;
  if (store_remove_object (b, ref) == -1)
    nbdkit_error ("the back-reference %s of export '%s' stays: remove it "
                  "by hand, or '%s' cannot be deleted", ref, base, base);
  errno = err;
  return -1;
}

int
store_clone_ref_add (struct store *s, const char *base, const char *name)
{
  char ref[sizeof STORE_CLONE_REF_DIR + STORE_EXPORT_NAME_MAX + 1];
  struct store_export *b = store_open_export (s, base);
  struct store_meta meta;
  int r = -1, err;

  if (b == NULL)
    return -1;
  snprintf (ref, sizeof ref, STORE_CLONE_REF_DIR "/%s", name);
  /* Under the base's guard, as in create_clone. */
  if (store_claim (b) == -1)
    nbdkit_error ("cannot record '%s' in its base '%s' now: the base's "
                  "guard is held (is it being deleted?)", name, base);
  else if ((r = store_read_meta (b, &meta)) == 0) {
    nbdkit_error ("export '%s' reads from '%s', which does not exist",
                  name, base);
    errno = ENOENT;
    r = -1;
  }
  else if (r == 1 && (r = store_put_object (b, ref, "", 0, true)) == -1 &&
           errno == EEXIST)
    nbdkit_error ("'%s' already names an export '%s' that reads from it",
                  base, name);
  err = errno;
  store_close_export (b);
  errno = err;
  return r;
}

int
store_clone_ref_remove (struct store *s, const char *base, const char *name)
{
  char ref[sizeof STORE_CLONE_REF_DIR + STORE_EXPORT_NAME_MAX + 1];
  struct store_export *b = store_open_export (s, base);
  int r;

  if (b == NULL)
    return -1;
  snprintf (ref, sizeof ref, STORE_CLONE_REF_DIR "/%s", name);
  r = store_remove_object (b, ref);
  store_close_export (b);
  if (r == -1)
    nbdkit_error ("the back-reference %s of export '%s' stays: remove it "
                  "by hand, or '%s' cannot be deleted", ref, base, base);
  return r;
}

int
store_clone_create (struct store *s, const char *base, const char *name)
{
  struct store_export *b = NULL, *c = NULL;
  int r = -1;

  if (!store_export_name_valid (base) || !store_export_name_valid (name)) {
    nbdkit_error ("cannot clone '%s' as '%s': not a valid export name "
                  "(1-200 bytes of UTF-8 without '/', control characters "
                  "or a leading '.')", base, name);
    errno = EINVAL;
    return -1;
  }
  if (strcmp (base, name) == 0) {
    nbdkit_error ("cannot clone '%s' as itself", base);
    errno = EINVAL;
    return -1;
  }
  b = store_open_export (s, base);
  if (b)
    c = store_open_export (s, name);
  if (c)
    r = create_clone (b, c, base, name);
  int err = errno;
  if (c)
    store_close_export (c);
  if (b)
    store_close_export (b);
  errno = err;
  return r;
}
