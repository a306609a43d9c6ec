/* SPDX-License-Identifier: MIT
 *
 * The filesystem page store: export NAME lives in the directory
 * <data-dir>/exports/NAME, as one file per stored page (page-%08x.bin)
 * plus its metadata (nbds3.meta), and in a clone one empty file per
 * tombstone (page-%08x.zero).
 *
 * Invariants:
 * - A page or metadata file is only ever replaced by renaming a fully
 *   written, fsync'd temporary file of the same directory over it, so it
 *   is never torn.  The directory is fsync'd at once for metadata, and
 *   for pages only by fs_sync (the cache's flush), once for many pages.
 *   Temporary names start with '.' (they never parse as pages) and
 *   contain ".tmp."; those left by a crash are removed when the export's
 *   guard is taken.
 * - Page files are immutable once renamed into place: no code changes a
 *   page inode after its rename (no pwrite, truncate, setxattr, chmod or
 *   utime of a renamed page; its checksum attribute is set on the
 *   temporary file).  A page is only replaced by rename or removed by
 *   unlink, so a hard link to it (a snapshot's: fs_copy_object) keeps the
 *   old page, bytes and checksum, for ever; its inode number and
 *   modification time are the page's version that a snapshot's point
 *   records.
 * - The single-writer guard is flock (LOCK_EX) on the export directory,
 *   taken by fs_claim (a writable open) or write_meta (creating it) and
 *   held by dir_fd until the export's last connection closes with
 *   nothing dirty (fs_unclaim) or the export closes; a read-only server
 *   opens the directory without it.  The holder of the lock keeps the
 *   holder file nbds3.holder beside it (store-fs-holder.c), written when
 *   it takes the lock and removed before it releases it, so that the
 *   nbds3 tool can say who holds the export.  The tool's guard_holder
 *   tries the lock without blocking and releases it at once; lock_dir
 *   tries a few times over LOCK_RETRY_MS, so that a server's claim
 *   never fails for that moment.  flock locks belong to the
 *   open file description, so a second open of the same export conflicts
 *   even within one process, and other descriptors of the directory (used
 *   for listing) neither take nor release it.
 * - An export whose directory did not exist at open_export holds no guard
 *   (dir_fd == -1) and is empty until write_meta creates the directory and
 *   takes the guard.  Nothing is written without the guard.
 * - Every directory nbds3 creates (data-dir and its missing parents,
 *   exports/, an export's directory) has its parent fsync'd once it
 *   exists, so a power loss after the first flush cannot lose its entry.
 * - A page's checksum is the extended attribute user.nbds3.crc32c of its
 *   file, set on the temporary file before its fsync and rename, so the
 *   page and its checksum appear together.  fs_ready refuses a data-dir
 *   whose filesystem has no user extended attributes (tmpfs before Linux
 *   6.6).
 * - Page files stay open for reading in a bounded descriptor cache
 *   (store-fs-fdcache.c), dropped after every rename over a page or
 *   unlink of it, and for the whole export when it closes or its guard
 *   is released or taken again.  While the guard is held every mutation
 *   of the export is ours, so the drops keep the cache exact; without it
 *   (a read-only server, or between unclaim and claim) another process
 *   may rename a page over the cached one, so a cached descriptor is
 *   used only if its inode is still the one the page's name points to.
 */

#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <nbdkit-plugin.h>

#include "cleanup.h"
#include "store.h"
#include "store-fs-fdcache.h"
#include "store-fs-holder.h"
#include "store-fs-objects.h"
#include "store-fs-util.h"

#define TMP_INFIX ".tmp."
/* The extended attribute that holds a page's checksum: 8 hex digits. */
#define CHECKSUM_XATTR "user.nbds3.crc32c"

struct fs_store {
  struct store base;
  char *exports_dir;            /* <data-dir>/exports */
  struct fs_fdcache *fds;       /* read descriptors of page files */
};

struct fs_export {
  struct store_export base;
  char *name;
  char *dir;                    /* <data-dir>/exports/<name> */
  pthread_mutex_t lock;         /* guards dir_fd and locked; held across
                                 * write_meta and claim */
  int dir_fd;                   /* the export directory, or -1 while the
                                 * export does not exist */
  bool locked;                  /* dir_fd holds the flock (claimed) */
  bool unlocked;                /* fs_unclaim released it: UNLOCKED_AT is
                                 * the directory's change time then */
  struct timespec unlocked_at;
  bool changed_unlocked;        /* lock_dir found the directory changed
                                 * since UNLOCKED_AT */
};

static const struct store_ops fs_ops;
static bool dir_changed_at (struct fs_export *e, struct timespec *ts);

/* Makes temporary file names unique within the process. */
static unsigned tmp_counter;

static int
get_dir_fd (struct fs_export *e)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&e->lock);
  return e->dir_fd;
}

/* Remove temporary files a crash left in the directory FD (locked). */
static void
remove_stale_temps (struct fs_export *e, int fd)
{
  DIR *d = store_fs_open_dir_stream (fd);
  struct dirent *ent;

  if (d == NULL) {
    nbdkit_debug ("fs: cannot list %s for stale temporary files: %m", e->dir);
    return;
  }
  while ((ent = readdir (d)) != NULL) {
    if (ent->d_name[0] != '.' || strstr (ent->d_name, TMP_INFIX) == NULL)
      continue;
    if (unlinkat (fd, ent->d_name, 0) == 0)
      nbdkit_debug ("fs: removed stale temporary file %s/%s",
                    e->dir, ent->d_name);
  }
  closedir (d);
}

/* Open E's directory (E->lock held).  1 when open (E->dir_fd set), 0 if
 * the directory does not exist, -1 on error.
 */
static int
open_dir (struct fs_export *e)
{
  int fd = open (e->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd == -1 && errno == ENOENT)
    return 0;
  if (fd == -1) {
    nbdkit_error ("cannot open export directory %s: %m", e->dir);
    return -1;
  }
  e->dir_fd = fd;
  return 1;
}

/* How long lock_dir tries before it finds the lock held. */
#define LOCK_RETRY_MS 100

/* flock (FD, LOCK_EX | LOCK_NB), tried every 10 ms for LOCK_RETRY_MS
 * while it is held (a tool's guard_holder holds it for a moment).
 */
static int
try_lock (int fd)
{
  for (int waited = 0;; waited += 10) {
    if (flock (fd, LOCK_EX | LOCK_NB) == 0)
      return 0;
    if (errno != EWOULDBLOCK || waited >= LOCK_RETRY_MS)
      return -1;
    usleep (10000);
  }
}

/* Take the single-writer guard on E's open directory (E->lock held),
 * remove the temporary files a crash left and write the holder file.
 * 0 or -1.
 */
static int
lock_dir (struct fs_export *e)
{
  if (e->locked)
    return 0;
  if (try_lock (e->dir_fd) == -1) {
    if (errno == EWOULDBLOCK) {
      nbdkit_error ("export '%s' is in use by another nbdkit process "
                    "(lock on %s held); stop it first, or serve it "
                    "read-only (nbdkit -r)", e->name, e->dir);
      errno = EBUSY;            /* as store.h says of claim */
    }
    else
      nbdkit_error ("cannot lock export directory %s: %m", e->dir);
    return -1;
  }
  nbdkit_debug ("fs: export '%s': locked %s", e->name, e->dir);
  /* Did anyone write the export while it was unlocked?  (Before the
   * holder file below changes the directory.)
   */
  if (e->unlocked) {
    struct timespec now;

    e->changed_unlocked = !dir_changed_at (e, &now) ||
      now.tv_sec != e->unlocked_at.tv_sec ||
      now.tv_nsec != e->unlocked_at.tv_nsec;
  }
  /* Cached while unguarded: another process may have replaced them. */
  fs_fdcache_drop_owner (((struct fs_store *) e->base.store)->fds, e);
  remove_stale_temps (e, e->dir_fd);
  store_fs_holder_write (e->dir, e->dir_fd);
  e->locked = true;
  return 0;
}

/* The directory of E for a mutation: open and locked.  -1 after
 * nbdkit_error if it is not (nothing is written without the guard).
 */
static int
get_locked_dir_fd (struct fs_export *e)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&e->lock);

  if (e->dir_fd == -1 || !e->locked) {
    nbdkit_error ("export '%s': written before %s", e->name,
                  e->dir_fd == -1 ? "its metadata" : "it was claimed");
    errno = EIO;
    return -1;
  }
  return e->dir_fd;
}

/* Keep SUM as the checksum attribute of the open file FD.  0 or -1. */
static int
set_checksum (int fd, const struct store_checksum *sum)
{
  char text[STORE_CHECKSUM_TEXT_LEN + 1];

  store_checksum_format (sum, text);
  return fsetxattr (fd, CHECKSUM_XATTR, text, STORE_CHECKSUM_TEXT_LEN, 0);
}

/* The checksum attribute of the open page file FD into SUM (not present
 * when the file has none).  0, or -1 with errno (EIO for a malformed
 * attribute, after nbdkit_error).
 */
static int
get_checksum (int fd, struct store_checksum *sum)
{
  char text[STORE_CHECKSUM_TEXT_LEN + 1];
  ssize_t n = fgetxattr (fd, CHECKSUM_XATTR, text, sizeof text);

  sum->present = false;
  if (n == -1)
    return errno == ENODATA ? 0 : -1;
  if (!store_checksum_parse (text, n, sum)) {
    errno = EIO;
    return -1;
  }
  return 0;
}

/* Replace the file NAME in E's directory DIR_FD (guard held) with LEN
 * bytes of BUF and, unless SUM is NULL, its checksum attribute, never
 * torn: unique temporary file, write, set the attribute, fsync, rename,
 * and with SYNC an fsync of the directory.  The temporary file never
 * outlives a failure.
 */
static int
replace_file (struct fs_export *e, int dir_fd, const char *name,
              const void *buf, size_t len, const struct store_checksum *sum,
              bool sync)
{
  char tmp[64];
  const char *what;
  size_t done = 0;
  int fd, err;

  /* Unique: our pid and counter, and the guard removed older temps. */
  snprintf (tmp, sizeof tmp, ".%s" TMP_INFIX "%ld.%u", name, (long) getpid (),
            __atomic_fetch_add (&tmp_counter, 1, __ATOMIC_RELAXED));
  fd = openat (dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd == -1) {
    nbdkit_error ("cannot write %s/%s (create %s): %m", e->dir, name, tmp);
    return -1;
  }

  while (done < len) {
    ssize_t n = pwrite (fd, (const char *) buf + done, len - done, done);

    if (n == -1 && errno == EINTR)
      continue;
    if (n <= 0) {
      if (n == 0)
        errno = EIO;
      what = "write";
      goto err;
    }
    done += n;
  }
  what = "set the checksum attribute " CHECKSUM_XATTR;
  if (sum && set_checksum (fd, sum) == -1)
    goto err;
  what = "fsync";
  if (fsync (fd) == -1)
    goto err;
  what = "close";
  if (close (fd) == -1) {
    fd = -1;
    goto err;
  }
  fd = -1;
  what = "rename";
  if (renameat (dir_fd, tmp, dir_fd, name) == -1)
    goto err;
  return sync ? store_fs_sync_dir (e->dir, dir_fd) : 0;

 err:
  err = errno;
  nbdkit_error ("cannot write %s/%s (%s): %m", e->dir, name, what);
  if (fd >= 0)
    close (fd);
  unlinkat (dir_fd, tmp, 0);
  errno = err;
  return -1;
}

static int
fs_ready (struct store *s)
{
  struct fs_store *fs = (struct fs_store *) s;
  int dfd = open (fs->exports_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int fd = -1, err;
  char probe[64];
  bool ok;

  snprintf (probe, sizeof probe, ".nbds3-probe" TMP_INFIX "%ld",
            (long) getpid ());
  ok = dfd >= 0 &&
    (fd = openat (dfd, probe, O_WRONLY | O_CREAT | O_CLOEXEC, 0666)) >= 0 &&
    unlinkat (dfd, probe, 0) == 0;
  err = errno;
  if (ok && fsetxattr (fd, CHECKSUM_XATTR, "00000000", 8, 0) == -1) {
    nbdkit_error ("%s: cannot set the extended attribute %s: %m: nbds3 "
                  "keeps each page's checksum in one, so data-dir= must be "
                  "on a filesystem with user extended attributes (ext4, "
                  "xfs, btrfs; tmpfs only from Linux 6.6)",
                  fs->exports_dir, CHECKSUM_XATTR);
    close (fd);
    close (dfd);
    return -1;
  }
  if (fd >= 0)
    close (fd);
  if (dfd >= 0)
    close (dfd);
  errno = err;
  if (!ok) {
    nbdkit_error ("%s is not a writable directory: %m: check data-dir= and "
                  "that the nbdkit user may write there", fs->exports_dir);
    return -1;
  }
  return 0;
}

static int
fs_list_exports (struct store *s, int (*fn) (void *opaque, const char *name),
                 void *opaque)
{
  struct fs_store *fs = (struct fs_store *) s;
  DIR *d = opendir (fs->exports_dir);
  struct dirent *ent;
  int r;

  if (d == NULL && errno == ENOENT)
    return 0;
  if (d == NULL) {
    nbdkit_error ("cannot list %s: %m", fs->exports_dir);
    return -1;
  }
  while ((r = store_fs_next_entry (d, fs->exports_dir, &ent)) == 1) {
    char meta[sizeof ent->d_name + sizeof "/" STORE_META_NAME];
    struct stat st;

    if (!store_export_name_valid (ent->d_name))
      continue;
    snprintf (meta, sizeof meta, "%s/" STORE_META_NAME, ent->d_name);
    if (fstatat (dirfd (d), meta, &st, 0) == -1 || !S_ISREG (st.st_mode))
      continue;
    if (fn (opaque, ent->d_name) == -1) {
      r = -1;
      break;
    }
  }
  closedir (d);
  return r;
}

static void
fs_close_export (struct store_export *se)
{
  struct fs_export *e = (struct fs_export *) se;
  struct fs_store *fs = (struct fs_store *) e->base.store;

  fs_fdcache_drop_owner (fs->fds, e);
  if (e->dir_fd >= 0) {
    if (e->locked)
      store_fs_holder_remove (e->dir_fd);
    close (e->dir_fd);
    nbdkit_debug ("fs: export '%s': unlocked", e->name);
  }
  pthread_mutex_destroy (&e->lock);
  free (e->dir);
  free (e->name);
  free (e);
}

static struct store_export *
fs_open_export (struct store *s, const char *name)
{
  struct fs_store *fs = (struct fs_store *) s;
  struct fs_export *e = calloc (1, sizeof *e);

  if (e == NULL) {
    nbdkit_error ("calloc: %m");
    return NULL;
  }
  e->base.store = s;
  e->dir_fd = -1;
  pthread_mutex_init (&e->lock, NULL);
  e->name = strdup (name);
  if (e->name == NULL)
    nbdkit_error ("strdup: %m");
  else if ((e->dir = store_fs_path_join (fs->exports_dir, name)) != NULL) {
    switch (open_dir (e)) {
    case 0:
      nbdkit_debug ("fs: export '%s' does not exist yet", name);
      /* fallthrough */
    case 1:
      return &e->base;
    }
  }
  fs_close_export (&e->base);
  return NULL;
}

static int
fs_read_meta (struct store_export *se, struct store_meta *meta)
{
  struct fs_export *e = (struct fs_export *) se;
  CLEANUP_FREE char *path = store_fs_path_join (e->dir, STORE_META_NAME);
  char text[STORE_META_MAX + 1];
  int dir_fd = get_dir_fd (e), fd, r = -1;
  ssize_t len;

  if (dir_fd == -1)
    return 0;
  if (path == NULL)
    return -1;
  fd = openat (dir_fd, STORE_META_NAME, O_RDONLY | O_CLOEXEC);
  if (fd == -1 && errno == ENOENT)
    return 0;
  if (fd == -1) {
    nbdkit_error ("cannot open %s: %m", path);
    return -1;
  }
  len = store_fs_read_full (fd, text, sizeof text);
  if (len == -1)
    nbdkit_error ("cannot read %s: %m", path);
  else if (store_meta_parse (text, len, meta, path) == -1)
    errno = EIO;
  else
    r = 1;
  store_fs_close_keep_errno (fd);
  return r;
}

static int
fs_write_meta (struct store_export *se, const struct store_meta *meta)
{
  struct fs_export *e = (struct fs_export *) se;
  struct fs_store *fs = (struct fs_store *) e->base.store;
  char text[STORE_META_MAX];
  size_t len = store_meta_format (meta, text);
  int fd, r;
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&e->lock);

  if (e->dir_fd == -1) {
    if (mkdir (e->dir, 0777) == -1 && errno != EEXIST) {
      nbdkit_error ("cannot create export directory %s: %m", e->dir);
      return -1;
    }
    r = open_dir (e);
    if (r == 0)
      nbdkit_error ("export directory %s vanished as it was created", e->dir);
    if (r != 1)
      return -1;
    if (lock_dir (e) == -1) {
      close (e->dir_fd);
      e->dir_fd = -1;
      return -1;
    }
    /* Another process created the export since we opened it (and has
     * exited): never overwrite its metadata from a stale view.
     */
    if (faccessat (e->dir_fd, STORE_META_NAME, F_OK, 0) == 0) {
      nbdkit_error ("export '%s' was created by another process after "
                    "it was opened here: open it again", e->name);
      close (e->dir_fd);
      e->dir_fd = -1;
      e->locked = false;
      errno = EEXIST;
      return -1;
    }
  }
  else if (lock_dir (e) == -1)
    return -1;
  else if (faccessat (e->dir_fd, STORE_META_NAME, F_OK, 0) == 0) {
    nbdkit_error ("export '%s' was created by another process after "
                  "it was opened here: open it again", e->name);
    errno = EEXIST;
    return -1;
  }
  if (replace_file (e, e->dir_fd, STORE_META_NAME, text, len, NULL, true) == -1)
    return -1;

  /* Make the export's own directory entry durable too. */
  fd = open (fs->exports_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd == -1) {
    nbdkit_error ("cannot open %s: %m", fs->exports_dir);
    return -1;
  }
  r = store_fs_sync_dir (fs->exports_dir, fd);
  store_fs_close_keep_errno (fd);
  return r;
}

/* Call FN for each file of E's directory whose name PARSE takes for a
 * page index (pages, or tombstones).  0 or -1.
 */
static int
list_page_files (struct fs_export *e,
                 bool (*parse) (const char *name, uint32_t *page),
                 int (*fn) (void *opaque, uint32_t page), void *opaque)
{
  int dir_fd = get_dir_fd (e), r;
  struct dirent *ent;
  uint32_t page;
  DIR *d;

  if (dir_fd == -1)
    return 0;
  d = store_fs_open_dir_stream (dir_fd);
  if (d == NULL) {
    nbdkit_error ("cannot list %s: %m", e->dir);
    return -1;
  }
  while ((r = store_fs_next_entry (d, e->dir, &ent)) == 1) {
    if (ent->d_type == DT_DIR || !parse (ent->d_name, &page))
      continue;
    if (fn (opaque, page) == -1) {
      r = -1;
      break;
    }
  }
  closedir (d);
  return r;
}

static int
fs_list_pages (struct store_export *se,
               int (*fn) (void *opaque, uint32_t page), void *opaque)
{
  return list_page_files ((struct fs_export *) se, store_page_name_parse,
                          fn, opaque);
}

/* The directory of E into *DIR_FD (-1 while the export does not exist),
 * and whether E holds the guard, so that every mutation is ours.
 */
static void
get_dir_fd_guarded (struct fs_export *e, int *dir_fd, bool *guarded)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&e->lock);
  *dir_fd = e->dir_fd;
  *guarded = e->locked;
}

/* Is NAME in DIR_FD still the inode INFO describes (not replaced or
 * removed behind our back)?
 */
static bool
same_inode (int dir_fd, const char *name, const struct fs_fd_info *info)
{
  struct stat st;

  return fstatat (dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
    st.st_dev == info->dev && st.st_ino == info->ino;
}

/* Open page file NAME of E for reading into *FD, with its inode and
 * checksum in *INFO, checking that it is LEN bytes.  1, 0 if it does not
 * exist, -1 after nbdkit_error.
 */
static int
open_page (struct fs_export *e, int dir_fd, const char *name, size_t len,
           int *fd, struct fs_fd_info *info)
{
  struct stat st;

  *fd = openat (dir_fd, name, O_RDONLY | O_CLOEXEC);
  if (*fd == -1 && errno == ENOENT)
    return 0;
  if (*fd == -1) {
    nbdkit_error ("cannot open page file %s/%s: %m", e->dir, name);
    return -1;
  }
  if (fstat (*fd, &st) == -1 || get_checksum (*fd, &info->sum) == -1) {
    nbdkit_error ("cannot read page file %s/%s: %m", e->dir, name);
    store_fs_close_keep_errno (*fd);
    return -1;
  }
  if ((uint64_t) st.st_size != len) {
    nbdkit_error ("page file %s/%s is %jd bytes, expected %zu: "
                  "the export is damaged", e->dir, name,
                  (intmax_t) st.st_size, len);
    close (*fd);
    errno = EIO;
    return -1;
  }
  info->dev = st.st_dev;
  info->ino = st.st_ino;
  return 1;
}

/* Read LEN bytes of page file NAME of E, open as FD, into BUF.  1 or -1
 * after nbdkit_error.
 */
static int
read_open_page (struct fs_export *e, const char *name, int fd, void *buf,
                size_t len)
{
  ssize_t n = store_fs_read_full (fd, buf, len);

  if (n == -1) {
    nbdkit_error ("cannot read page file %s/%s: %m", e->dir, name);
    return -1;
  }
  if ((size_t) n != len) {      /* truncated since it was opened */
    nbdkit_error ("page file %s/%s is %zd bytes, expected %zu: "
                  "the export is damaged", e->dir, name, n, len);
    errno = EIO;
    return -1;
  }
  return 1;
}

static int
fs_read_page (struct store_export *se, uint32_t page, void *buf, size_t len,
              struct store_checksum *sum)
{
  struct fs_export *e = (struct fs_export *) se;
  struct fs_store *fs = (struct fs_store *) e->base.store;
  uint64_t gen = fs_fdcache_generation (fs->fds);
  char name[STORE_PAGE_NAME_LEN + 1];
  struct fs_fd_info info;
  int dir_fd, fd, r;
  bool guarded;

  get_dir_fd_guarded (e, &dir_fd, &guarded);
  if (dir_fd == -1)
    return 0;
  snprintf (name, sizeof name, STORE_PAGE_NAME_FMT, page);
  fd = fs_fdcache_take (fs->fds, e, page, &info);
  if (fd >= 0 && !guarded && !same_inode (dir_fd, name, &info)) {
    close (fd);
    fd = -1;
  }
  if (fd == -1 && (r = open_page (e, dir_fd, name, len, &fd, &info)) != 1)
    return r;
  r = read_open_page (e, name, fd, buf, len);
  if (r == 1) {
    *sum = info.sum;
    fs_fdcache_put (fs->fds, e, page, fd, &info, gen);
  }
  else
    store_fs_close_keep_errno (fd);
  return r;
}

static int
fs_write_page (struct store_export *se, uint32_t page,
               const void *buf, size_t len, const struct store_checksum *sum)
{
  struct fs_export *e = (struct fs_export *) se;
  struct fs_store *fs = (struct fs_store *) e->base.store;
  char name[STORE_PAGE_NAME_LEN + 1];
  int dir_fd = get_locked_dir_fd (e), r;

  if (dir_fd == -1)
    return -1;
  snprintf (name, sizeof name, STORE_PAGE_NAME_FMT, page);
  r = replace_file (e, dir_fd, name, buf, len, sum, false);
  fs_fdcache_drop (fs->fds, e, page);   /* after the rename: see top */
  if (r == 0)
    return 0;
  if (errno == EEXIST)
    errno = EIO;        /* a clash of temporary names, not store.h's EEXIST */
  return -1;
}

/* Remove the page file of PAGE of E, or with TOMBSTONE its tombstone
 * (guard held), dropping the page's cached descriptor.  One that does
 * not exist is no error.
 */
static int
unlink_page_file (struct fs_export *e, uint32_t page, bool tombstone)
{
  struct fs_store *fs = (struct fs_store *) e->base.store;
  char name[STORE_TOMBSTONE_NAME_LEN + 1];
  int dir_fd, r;

  if (get_dir_fd (e) == -1)     /* no export, so no page */
    return 0;
  if ((dir_fd = get_locked_dir_fd (e)) == -1)
    return -1;
  if (tombstone)
    snprintf (name, sizeof name, STORE_TOMBSTONE_NAME_FMT, page);
  else
    snprintf (name, sizeof name, STORE_PAGE_NAME_FMT, page);
  r = unlinkat (dir_fd, name, 0);
  fs_fdcache_drop (fs->fds, e, page);
  if (r == -1 && errno != ENOENT) {
    nbdkit_error ("cannot delete %s/%s: %m", e->dir, name);
    return -1;
  }
  return 0;
}

static int
fs_delete_page (struct store_export *se, uint32_t page)
{
  return unlink_page_file ((struct fs_export *) se, page, false);
}

/* The change time of E's directory (every page written or deleted is a
 * rename or unlink in it) into TS.  false if fstat fails.
 */
static bool
dir_changed_at (struct fs_export *e, struct timespec *ts)
{
  struct stat st;

  if (fstat (e->dir_fd, &st) == -1)
    return false;
  *ts = st.st_ctim;
  return true;
}

static int
fs_claim (struct store_export *se)
{
  struct fs_export *e = (struct fs_export *) se;
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&e->lock);

  if (e->dir_fd == -1)
    return 0;                   /* write_meta creates and locks it */
  if (lock_dir (e) == -1)
    return -1;
  if (!e->unlocked)
    return 0;
  e->unlocked = false;
  return e->changed_unlocked ? 1 : 0;
}

static bool
fs_unclaim (struct store_export *se)
{
  struct fs_export *e = (struct fs_export *) se;
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&e->lock);

  if (!e->locked)
    return false;
  store_fs_holder_remove (e->dir_fd);   /* (before the change time) */
  if (!dir_changed_at (e, &e->unlocked_at))
    return false;
  if (flock (e->dir_fd, LOCK_UN) == -1) {
    nbdkit_debug ("fs: export '%s': cannot unlock %s: %m", e->name, e->dir);
    return false;
  }
  e->locked = false;
  e->unlocked = true;
  fs_fdcache_drop_owner (((struct fs_store *) e->base.store)->fds, e);
  nbdkit_debug ("fs: export '%s': unlocked %s (no connection)", e->name,
                e->dir);
  return true;
}

static int
fs_sync (struct store_export *se)
{
  struct fs_export *e = (struct fs_export *) se;
  int dir_fd = get_dir_fd (e);

  return dir_fd == -1 ? 0 : store_fs_sync_dir (e->dir, dir_fd);
}

static void
fs_free (struct store *s)
{
  struct fs_store *fs = (struct fs_store *) s;

  fs_fdcache_free (fs->fds);
  free (fs->exports_dir);
  free (fs);
}

/* ---- Snapshots ---- */

/* A page file's version, for snapshots: its inode and modification
 * time, which no code changes after the rename (see the top), into BUF
 * ("" after fstatat failed with ENOENT).  0, or -1 after nbdkit_error.
 */
#define FS_VERSION_MAX 80       /* SNAP_VERSION_MAX: what a point keeps */
static int
page_version (int dir_fd, const char *dir, const char *name,
              char buf[FS_VERSION_MAX])
{
  struct stat st;

  buf[0] = '\0';
  if (fstatat (dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
    snprintf (buf, FS_VERSION_MAX, "%ju-%jd.%09ld", (uintmax_t) st.st_ino,
              (intmax_t) st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    return 0;
  }
  if (errno == ENOENT)
    return 0;
  nbdkit_error ("cannot stat %s/%s: %m", dir, name);
  return -1;
}

static int
fs_list_page_versions (struct store_export *se,
                       int (*fn) (void *opaque, uint32_t page,
                                  const char *version),
                       void *opaque)
{
  struct fs_export *e = (struct fs_export *) se;
  int dir_fd = get_dir_fd (e), r;
  char version[FS_VERSION_MAX];
  struct dirent *ent;
  uint32_t page;
  DIR *d;

  if (dir_fd == -1)
    return 0;
  if ((d = store_fs_open_dir_stream (dir_fd)) == NULL) {
    nbdkit_error ("cannot list %s: %m", e->dir);
    return -1;
  }
  while ((r = store_fs_next_entry (d, e->dir, &ent)) == 1) {
    if (ent->d_type == DT_DIR || !store_page_name_parse (ent->d_name, &page))
      continue;
    if (page_version (dirfd (d), e->dir, ent->d_name, version) == -1 ||
        (version[0] && fn (opaque, page, version) == -1)) {
      r = -1;
      break;
    }
  }
  closedir (d);
  return r;
}

/* Does the snapshot's file TO (in directory DST_FD of DST_DIR) hold
 * VERSION ("" matches anything)?  1 yes, 0 no, -1 after nbdkit_error.
 */
static int
holds_version (int dst_fd, const char *dst_dir, const char *name,
               const char *version)
{
  char now[FS_VERSION_MAX];

  if (version[0] == '\0')
    return 1;
  if (page_version (dst_fd, dst_dir, name, now) == -1)
    return -1;
  return strcmp (now, version) == 0;
}

/* Link NAME of E into DST (a hard link: the same inode, so the same
 * bytes and checksum for ever).  When VERSION is set (the point's), the
 * link must hold that very inode: a page that is already in DST, or
 * that E no longer has, counts only if DST's is that version.
 */
static int
fs_copy_object (struct store_export *se, const char *name,
                const char *version, uint64_t size, struct store_export *sdst)
{
  struct fs_export *e = (struct fs_export *) se;
  struct fs_export *dst = (struct fs_export *) sdst;
  CLEANUP_FREE char *from = store_fs_path_join (e->dir, name);
  CLEANUP_FREE char *to = store_fs_path_join (dst->dir, name);
  int dst_fd, r;

  (void) size;
  if (from == NULL || to == NULL || store_fs_mkdir_durable (dst->dir) == -1)
    return -1;
  if (link (from, to) == 0)
    r = 1;
  else if (errno == EEXIST || errno == ENOENT)
    r = 2;                      /* the holder linked it first, or lost */
  else {
    nbdkit_error ("cannot link %s to %s: %m", from, to);
    return -1;
  }
  dst_fd = open (dst->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dst_fd == -1) {
    nbdkit_error ("cannot open %s: %m", dst->dir);
    return -1;
  }
  switch (holds_version (dst_fd, dst->dir, name, version)) {
  case -1:
    r = -1;
    break;
  case 0:
    if (r == 1)                 /* linked a later version: not ours */
      unlinkat (dst_fd, name, 0);
    else if (faccessat (dst_fd, name, F_OK, 0) == 0)
      nbdkit_error ("%s holds another version of %s than the snapshot's "
                    "point: an earlier, interrupted snapshot into that name "
                    "left it", to, name);
    r = 0;
  }
  close (dst_fd);
  return r;
}

/* ---- Named objects (store-fs-objects.c) ---- */

static int
fs_list_objects (struct store_export *se,
                 int (*fn) (void *opaque, const char *name, uint64_t size),
                 void *opaque)
{
  return store_fs_list_objects (((struct fs_export *) se)->dir, fn, opaque);
}

static int
fs_put_object (struct store_export *se, const char *name, const void *buf,
               size_t len, bool exclusive)
{
  return store_fs_put_object (((struct fs_export *) se)->dir, name, buf, len,
                              exclusive);
}

static int
fs_get_object (struct store_export *se, const char *name, void *buf,
               size_t cap, size_t *len)
{
  return store_fs_get_object (((struct fs_export *) se)->dir, name, buf, cap,
                              len);
}

static int
fs_remove_object (struct store_export *se, const char *name)
{
  return store_fs_remove_object (((struct fs_export *) se)->dir, name);
}

/* ---- Tombstones (store.h): empty files page-%08x.zero ---- */

/* An empty file needs no fsync of its own: its directory entry is all
 * there is, and fs_sync (the cache's flush) makes that durable, as it
 * does for pages.
 */
static int
fs_put_tombstone (struct store_export *se, uint32_t page)
{
  struct fs_export *e = (struct fs_export *) se;
  char name[STORE_TOMBSTONE_NAME_LEN + 1];
  int dir_fd = get_locked_dir_fd (e), fd;

  if (dir_fd == -1)
    return -1;
  snprintf (name, sizeof name, STORE_TOMBSTONE_NAME_FMT, page);
  fd = openat (dir_fd, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
  if (fd == -1) {
    nbdkit_error ("cannot create tombstone %s/%s: %m", e->dir, name);
    return -1;
  }
  return close (fd);
}

static int
fs_remove_tombstone (struct store_export *se, uint32_t page)
{
  return unlink_page_file ((struct fs_export *) se, page, true);
}

static int
fs_list_tombstones (struct store_export *se,
                    int (*fn) (void *opaque, uint32_t page), void *opaque)
{
  return list_page_files ((struct fs_export *) se,
                          store_tombstone_name_parse, fn, opaque);
}

/* ---- The tool's methods ---- */

static int
fs_guard_holder (struct store_export *se, char *buf, size_t len)
{
  struct fs_export *e = (struct fs_export *) se;
  int dir_fd, fd, r;
  bool locked;

  get_dir_fd_guarded (e, &dir_fd, &locked);
  if (locked) {
    if (store_fs_holder_describe (dir_fd, buf, len) == 0)
      snprintf (buf, len, "this process");
    return 1;
  }
  /* A descriptor of its own: a new open file description, whose flock
   * conflicts with every holder's.
   */
  fd = open (e->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd == -1 && errno == ENOENT)
    return 0;
  if (fd == -1) {
    nbdkit_error ("cannot open export directory %s: %m", e->dir);
    return -1;
  }
  if (flock (fd, LOCK_SH | LOCK_NB) == 0)
    r = 0;                      /* free (closing the descriptor unlocks) */
  else if (errno == EWOULDBLOCK) {
    r = 1;
    if (store_fs_holder_describe (fd, buf, len) == 0)
      snprintf (buf, len, "a process that left no %s (an older nbds3?)",
                STORE_HOLDER_NAME);
  }
  else {
    nbdkit_error ("cannot test the lock of %s: %m", e->dir);
    r = -1;
  }
  store_fs_close_keep_errno (fd);
  return r;
}

static int
fs_replace_meta (struct store_export *se, const struct store_meta *meta)
{
  struct fs_export *e = (struct fs_export *) se;
  char text[STORE_META_MAX];
  size_t len = store_meta_format (meta, text);
  int dir_fd = get_locked_dir_fd (e);

  if (dir_fd == -1)
    return -1;
  if (faccessat (dir_fd, STORE_META_NAME, F_OK, 0) == -1) {
    nbdkit_error ("export '%s' has no metadata to replace (%s/%s: %m)",
                  e->name, e->dir, STORE_META_NAME);
    return -1;
  }
  return replace_file (e, dir_fd, STORE_META_NAME, text, len, NULL, true);
}

static int
fs_remove_objects (struct store_export *se, const char *const *names,
                   size_t n)
{
  struct fs_export *e = (struct fs_export *) se;
  struct fs_store *fs = (struct fs_store *) e->base.store;
  int r;

  if (get_locked_dir_fd (e) == -1)
    return -1;
  r = store_fs_remove_names (e->dir, names, n);
  fs_fdcache_drop_owner (fs->fds, e);
  return r;
}

static int
fs_remove_export (struct store_export *se)
{
  struct fs_export *e = (struct fs_export *) se;
  const char *const meta[] = { STORE_META_NAME, STORE_HOLDER_NAME };

  /* The metadata first, durably: from then on the export does not
   * list, and a server that opens it cannot lock it while we hold it.
   */
  if (fs_remove_objects (se, meta, 1) == -1 ||
      fs_remove_objects (se, meta + 1, 1) == -1)
    return -1;
  return store_fs_remove_dir (e->dir);
}

static int
fs_check_guard (struct store_export *se)
{
  struct fs_export *e = (struct fs_export *) se;
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&e->lock);

  if (e->locked)
    return 0;
  nbdkit_error ("export '%s': this process does not hold its lock", e->name);
  errno = EIO;
  return -1;
}

static const struct store_ops fs_ops = {
  .name = "fs",
  .ready = fs_ready,
  .list_exports = fs_list_exports,
  .open_export = fs_open_export,
  .read_meta = fs_read_meta,
  .write_meta = fs_write_meta,
  .list_pages = fs_list_pages,
  .claim = fs_claim,
  .unclaim = fs_unclaim,
  .read_page = fs_read_page,
  .write_page = fs_write_page,
  .delete_page = fs_delete_page,
  .close_export = fs_close_export,
  .free = fs_free,
  .sync = fs_sync,
  .list_objects = fs_list_objects,
  .put_object = fs_put_object,
  .get_object = fs_get_object,
  .remove_object = fs_remove_object,
  .guard_holder = fs_guard_holder,
  .replace_meta = fs_replace_meta,
  .remove_objects = fs_remove_objects,
  .remove_export = fs_remove_export,
  .check_guard = fs_check_guard,
  .put_tombstone = fs_put_tombstone,
  .remove_tombstone = fs_remove_tombstone,
  .list_tombstones = fs_list_tombstones,
  .copy_object = fs_copy_object,
  .list_page_versions = fs_list_page_versions,
};

struct store *
store_fs_new (const char *data_dir)
{
  struct fs_store *fs = calloc (1, sizeof *fs);

  if (fs == NULL) {
    nbdkit_error ("calloc: %m");
    return NULL;
  }
  fs->base.ops = &fs_ops;
  fs->exports_dir = store_fs_path_join (data_dir, STORE_EXPORTS_DIR);
  fs->fds = fs_fdcache_new (STORE_FS_CACHED_FDS);
  if (fs->exports_dir == NULL || fs->fds == NULL ||
      store_fs_mkdir_p (fs->exports_dir) == -1) {
    fs_free (&fs->base);
    return NULL;
  }
  nbdkit_debug ("fs: pages under %s", fs->exports_dir);
  return &fs->base;
}
