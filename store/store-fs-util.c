/* SPDX-License-Identifier: MIT
 *
 * Small file and directory helpers of the FS store (store-fs.c): paths,
 * full reads, directory streams with their own offset, and durable
 * directories (fsync of a directory, of a new directory's parent).  Each
 * reports with nbdkit_error where its name says so; none knows of
 * exports or pages.
 */

#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nbdkit-plugin.h>

#include "cleanup.h"
#include "store-fs-util.h"

/* Return A "/" B in a new string, or NULL after nbdkit_error. */
char *
store_fs_path_join (const char *a, const char *b)
{
  size_t la = strlen (a), lb = strlen (b);
  char *r = malloc (la + lb + 2);

  if (r == NULL) {
    nbdkit_error ("malloc: %m");
    return NULL;
  }
  memcpy (r, a, la);
  r[la] = '/';
  memcpy (r + la + 1, b, lb + 1);
  return r;
}

/* Close FD keeping errno, for error paths. */
void
store_fs_close_keep_errno (int fd)
{
  int err = errno;

  close (fd);
  errno = err;
}

/* Read up to LEN bytes from FD at offset 0: fewer only at end of file.
 * The count, or -1 with errno set.
 */
ssize_t
store_fs_read_full (int fd, void *buf, size_t len)
{
  size_t done = 0;

  while (done < len) {
    ssize_t n = pread (fd, (char *) buf + done, len - done, done);

    if (n == -1 && errno == EINTR)
      continue;
    if (n == -1)
      return -1;
    if (n == 0)
      break;
    done += n;
  }
  return done;
}

/* The next entry of directory stream D (of PATH): 1 with *ENT set, 0 at
 * the end, -1 on error.
 */
int
store_fs_next_entry (DIR *d, const char *path, struct dirent **ent)
{
  errno = 0;
  *ent = readdir (d);
  if (*ent)
    return 1;
  if (errno == 0)
    return 0;
  nbdkit_error ("cannot list %s: %m", path);
  return -1;
}

/* A new stream on directory FD with its own file offset, so that several
 * listings can run at once.  NULL with errno set.
 */
DIR *
store_fs_open_dir_stream (int fd)
{
  int dfd = openat (fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d;

  if (dfd == -1)
    return NULL;
  d = fdopendir (dfd);
  if (d == NULL)
    store_fs_close_keep_errno (dfd);
  return d;
}

int
store_fs_sync_dir (const char *path, int fd)
{
  if (fsync (fd) == -1) {
    nbdkit_error ("fsync of directory %s: %m", path);
    return -1;
  }
  return 0;
}

/* Create the directory PATH, and if it is new fsync its parent, so that
 * its entry survives a power loss.  0 (also if it existed), or -1 after
 * nbdkit_error.
 */
int
store_fs_mkdir_durable (const char *path)
{
  const char *slash = strrchr (path, '/');
  CLEANUP_FREE char *parent = NULL;
  int fd, r;

  if (mkdir (path, 0777) == -1) {
    if (errno == EEXIST)
      return 0;
    nbdkit_error ("cannot create directory %s: %m (check data-dir=)", path);
    return -1;
  }
  if (slash == NULL)
    parent = strdup (".");
  else
    parent = strndup (path, slash == path ? 1 : (size_t) (slash - path));
  if (parent == NULL) {
    nbdkit_error ("strdup: %m");
    return -1;
  }
  fd = open (parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd == -1) {
    nbdkit_error ("cannot open directory %s: %m", parent);
    return -1;
  }
  r = store_fs_sync_dir (parent, fd);
  store_fs_close_keep_errno (fd);
  return r;
}

/* Create PATH and its missing parents (mkdir -p), each durably.  An
 * existing last component is accepted whatever its type: ready() checks
 * it properly.
 */
int
store_fs_mkdir_p (const char *path)
{
  CLEANUP_FREE char *copy = strdup (path);

  if (copy == NULL) {
    nbdkit_error ("strdup: %m");
    return -1;
  }
  for (char *p = copy + 1;; ++p) {
    char c = *p;

    if (c != '/' && c != '\0')
      continue;
    *p = '\0';
    if (store_fs_mkdir_durable (copy) == -1)
      return -1;
    if (c == '\0')
      return 0;
    *p = c;
  }
}
