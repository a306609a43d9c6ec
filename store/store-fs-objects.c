/* SPDX-License-Identifier: MIT
 *
 * The FS store's named objects (store.h): plain files under an export's
 * directory, NAME being "file" or "subdirectory/file".  Each is written
 * as a page is (a temporary file, fsync, then rename, or link for an
 * exclusive create, which fails if the name exists), and the directory
 * that changed is fsync'd before the call returns.  These functions know
 * only the export's directory path, not the export: they need no guard
 * (but the tool's removals at the end run only under it: store-fs.c).
 */

#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nbdkit-plugin.h>

#include "cleanup.h"
#include "store-fs-objects.h"
#include "store-fs-util.h"

static unsigned tmp_counter;

/* Report every entry of DIR (SUB: its name relative to the export, or
 * NULL for the export's own directory), one level of subdirectories
 * down.  0 or -1.
 */
static int
list_dir (const char *dir, const char *sub,
          int (*fn) (void *opaque, const char *name, uint64_t size),
          void *opaque)
{
  CLEANUP_FREE char *path = sub ? store_fs_path_join (dir, sub) : strdup (dir);
  struct dirent *ent;
  struct stat st;
  DIR *d;
  int r;

  if (path == NULL)
    return -1;
  d = opendir (path);
  if (d == NULL && errno == ENOENT)
    return 0;
  if (d == NULL) {
    nbdkit_error ("cannot list %s: %m", path);
    return -1;
  }
  while ((r = store_fs_next_entry (d, path, &ent)) == 1) {
    char name[2 * NAME_MAX + 2];

    if (strcmp (ent->d_name, ".") == 0 || strcmp (ent->d_name, "..") == 0)
      continue;
    if (fstatat (dirfd (d), ent->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
      if (errno == ENOENT)
        continue;               /* removed meanwhile */
      nbdkit_error ("cannot stat %s/%s: %m", path, ent->d_name);
      r = -1;
      break;
    }
    snprintf (name, sizeof name, "%s%s%s", sub ? sub : "", sub ? "/" : "",
              ent->d_name);
    if (S_ISDIR (st.st_mode) && sub == NULL)
      r = list_dir (dir, ent->d_name, fn, opaque);
    else
      r = fn (opaque, name, st.st_size);
    if (r == -1)
      break;
  }
  closedir (d);
  return r;
}

int
store_fs_list_objects (const char *dir,
                       int (*fn) (void *opaque, const char *name,
                                  uint64_t size),
                       void *opaque)
{
  return list_dir (dir, NULL, fn, opaque);
}

/* The directory that holds NAME under DIR, created if CREATE (durably,
 * DIR too, as a put under a prefix that holds nothing works on S3), and
 * NAME's last component into *LEAF.  NULL after nbdkit_error.
 */
static char *
holder_dir (const char *dir, const char *name, bool create,
            const char **leaf)
{
  const char *slash = strchr (name, '/');
  CLEANUP_FREE char *sub = NULL;
  struct stat st;

  if (stat (dir, &st) == -1 &&
      (errno != ENOENT || !create || store_fs_mkdir_durable (dir) == -1)) {
    if (errno != ENOENT)
      nbdkit_error ("cannot use export directory %s: %m", dir);
    return NULL;                /* ENOENT: the export does not exist */
  }
  *leaf = slash ? slash + 1 : name;
  if (slash == NULL)
    return strdup (dir);
  sub = strndup (name, slash - name);
  if (sub == NULL) {
    nbdkit_error ("strdup: %m");
    return NULL;
  }
  char *path = store_fs_path_join (dir, sub);
  if (path && create && store_fs_mkdir_durable (path) == -1) {
    free (path);
    return NULL;
  }
  return path;
}

/* Write BUF of LEN bytes into a new temporary file of directory FD (of
 * PATH), fsync'd, its name into TMP.  0 or -1 after nbdkit_error.
 */
static int
write_temp (int fd, const char *path, const char *leaf, const void *buf,
            size_t len, char tmp[NAME_MAX + 1])
{
  size_t done = 0;
  int tfd;

  snprintf (tmp, NAME_MAX + 1, ".%.200s.tmp.%ld.%u", leaf, (long) getpid (),
            __atomic_fetch_add (&tmp_counter, 1, __ATOMIC_RELAXED));
  tfd = openat (fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (tfd == -1) {
    nbdkit_error ("cannot create %s/%s: %m", path, tmp);
    return -1;
  }
  while (done < len) {
    ssize_t n = write (tfd, (const char *) buf + done, len - done);

    if (n == -1 && errno == EINTR)
      continue;
    if (n <= 0)
      goto err;
    done += n;
  }
  if (fsync (tfd) == 0 && close (tfd) == 0)
    return 0;
  tfd = -1;
 err:
  if (errno == 0)
    errno = EIO;
  nbdkit_error ("cannot write %s/%s: %m", path, tmp);
  if (tfd >= 0)
    close (tfd);
  unlinkat (fd, tmp, 0);
  return -1;
}

int
store_fs_put_object (const char *dir, const char *name, const void *buf,
                     size_t len, bool exclusive)
{
  const char *leaf;
  CLEANUP_FREE char *path = holder_dir (dir, name, true, &leaf);
  char tmp[NAME_MAX + 1];
  int fd, r;

  if (path == NULL)
    return -1;
  fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd == -1) {
    nbdkit_error ("cannot open directory %s: %m", path);
    return -1;
  }
  r = write_temp (fd, path, leaf, buf, len, tmp);
  if (r == 0 && exclusive) {
    r = linkat (fd, tmp, fd, leaf, 0);
    if (r == -1 && errno != EEXIST)
      nbdkit_error ("cannot create %s/%s: %m", path, leaf);
    int err = errno;
    unlinkat (fd, tmp, 0);
    errno = err;
  }
  else if (r == 0 && (r = renameat (fd, tmp, fd, leaf)) == -1) {
    nbdkit_error ("cannot write %s/%s (rename): %m", path, leaf);
    unlinkat (fd, tmp, 0);
    store_fs_close_keep_errno (fd);
    return -1;
  }
  if (r == 0)
    r = store_fs_sync_dir (path, fd);
  store_fs_close_keep_errno (fd);
  return r;
}

int
store_fs_get_object (const char *dir, const char *name, void *buf,
                     size_t cap, size_t *len)
{
  CLEANUP_FREE char *path = store_fs_path_join (dir, name);
  char extra;
  ssize_t n;
  int fd;

  if (path == NULL)
    return -1;
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd == -1 && (errno == ENOENT || errno == ENOTDIR))
    return 0;
  if (fd == -1) {
    nbdkit_error ("cannot open %s: %m", path);
    return -1;
  }
  n = store_fs_read_full (fd, buf, cap);
  if (n >= 0 && (size_t) n == cap && pread (fd, &extra, 1, n) == 1) {
    nbdkit_error ("%s is longer than %zu bytes: it is not nbds3's", path,
                  cap);
    errno = EFBIG;
    n = -1;
  }
  else if (n == -1)
    nbdkit_error ("cannot read %s: %m", path);
  store_fs_close_keep_errno (fd);
  if (n == -1)
    return -1;
  *len = n;
  return 1;
}

int
store_fs_remove_object (const char *dir, const char *name)
{
  const char *leaf;
  CLEANUP_FREE char *path = holder_dir (dir, name, false, &leaf);
  int fd, r;

  if (path == NULL)
    return errno == ENOENT ? 0 : -1;
  fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd == -1 && errno == ENOENT)
    return 0;
  if (fd == -1) {
    nbdkit_error ("cannot open directory %s: %m", path);
    return -1;
  }
  r = unlinkat (fd, leaf, 0);
  if (r == -1 && errno == ENOENT)
    r = 1;
  else if (r == -1)
    nbdkit_error ("cannot remove %s/%s: %m", path, leaf);
  if (r == 0)
    r = store_fs_sync_dir (path, fd);
  store_fs_close_keep_errno (fd);
  return r == -1 ? -1 : 0;
}

/* ---- The tool's removals ---- */

/* fsync the directory PATH.  0 or -1 after nbdkit_error. */
static int
sync_path (const char *path)
{
  int fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;

  if (fd == -1) {
    nbdkit_error ("cannot open directory %s: %m", path);
    return -1;
  }
  r = store_fs_sync_dir (path, fd);
  store_fs_close_keep_errno (fd);
  return r;
}

/* Is NAME one or two components (split by one '/'), none "." or ".."?
 * (Temporary files start with '.', so store_object_name_valid is too
 * strict here.)
 */
static bool
removable_name (const char *name)
{
  const char *slash = strchr (name, '/');
  const char *last = slash ? slash + 1 : name;
  size_t first_len = slash ? (size_t) (slash - name) : strlen (name);

  return first_len > 0 && *last != '\0' && strchr (last, '/') == NULL &&
    !(first_len == 1 && name[0] == '.') &&
    !(first_len == 2 && strncmp (name, "..", 2) == 0) &&
    (slash == NULL || (strcmp (last, ".") != 0 && strcmp (last, "..") != 0));
}

int
store_fs_remove_names (const char *dir, const char *const *names, size_t n)
{
  bool top_changed = false;
  char **subs = NULL;           /* subdirectories that changed */
  size_t nsubs = 0;
  int r = 0;

  for (size_t i = 0; r == 0 && i < n; ++i) {
    const char *slash = strchr (names[i], '/');
    CLEANUP_FREE char *path = NULL;

    if (!removable_name (names[i])) {
      nbdkit_error ("%s: '%s' is not an object name of the export", dir,
                    names[i]);
      errno = EINVAL;
      r = -1;
      break;
    }
    if ((path = store_fs_path_join (dir, names[i])) == NULL) {
      r = -1;
      break;
    }
    if (unlink (path) == -1) {
      if (errno == ENOENT)
        continue;
      nbdkit_error ("cannot remove %s: %m", path);
      r = -1;
      break;
    }
    if (slash == NULL) {
      top_changed = true;
      continue;
    }
    size_t k;
    for (k = 0; k < nsubs; ++k)
      if (strncmp (subs[k], names[i], slash - names[i]) == 0 &&
          subs[k][slash - names[i]] == '\0')
        break;
    if (k < nsubs)
      continue;
    char **more = realloc (subs, (nsubs + 1) * sizeof *subs);
    if (more == NULL ||
        (more[nsubs] = strndup (names[i], slash - names[i])) == NULL) {
      subs = more ? more : subs;
      nbdkit_error ("out of memory");
      r = -1;
      break;
    }
    subs = more;
    nsubs++;
  }
  /* What was removed is durable, also after a failure. */
  if (top_changed && sync_path (dir) == -1)
    r = -1;
  for (size_t k = 0; k < nsubs; ++k) {
    CLEANUP_FREE char *path = store_fs_path_join (dir, subs[k]);

    if (path == NULL || sync_path (path) == -1)
      r = -1;
    free (subs[k]);
  }
  free (subs);
  return r;
}

int
store_fs_remove_dir (const char *dir)
{
  CLEANUP_FREE char *parent = strdup (dir);
  struct dirent *ent;
  char *slash;
  DIR *d;
  int r;

  if (parent == NULL) {
    nbdkit_error ("strdup: %m");
    return -1;
  }
  d = opendir (dir);
  if (d == NULL && errno == ENOENT)
    return 0;
  if (d == NULL) {
    nbdkit_error ("cannot list %s: %m", dir);
    return -1;
  }
  while ((r = store_fs_next_entry (d, dir, &ent)) == 1) {
    struct stat st;

    if (strcmp (ent->d_name, ".") == 0 || strcmp (ent->d_name, "..") == 0)
      continue;
    int sr = fstatat (dirfd (d), ent->d_name, &st, AT_SYMLINK_NOFOLLOW);

    if (sr == -1 && errno == ENOENT)
      continue;                 /* removed meanwhile */
    if (sr == 0 && !S_ISDIR (st.st_mode))
      errno = ENOTEMPTY;        /* a file: not ours to remove here */
    else if (sr == 0 &&
             unlinkat (dirfd (d), ent->d_name, AT_REMOVEDIR) == 0)
      continue;
    nbdkit_error ("cannot remove %s/%s: %m (was it written meanwhile?)", dir,
                  ent->d_name);
    r = -1;
    break;
  }
  closedir (d);
  if (r == -1)
    return -1;
  if (rmdir (dir) == -1 && errno != ENOENT) {
    nbdkit_error ("cannot remove %s: %m (was it written meanwhile?)", dir);
    return -1;
  }
  slash = strrchr (parent, '/');
  if (slash && slash != parent)
    *slash = '\0';
  return sync_path (parent);
}
