/* SPDX-License-Identifier: MIT
 *
 * The FS store's bounded cache of read descriptors of page files, so
 * that reading a page again costs a pread, not an open, fstat,
 * getxattr, read and close.  One cache per store, shared by its
 * exports, at most MAX descriptors (STORE_FS_CACHED_FDS, counted in the
 * plugin's file limit); the least recently used is closed to make room.
 *
 * Invariants:
 * - Only read-only descriptors of page files are cached, keyed by
 *   (export, page).  A reader takes its descriptor out (take) and gives
 *   it back after its read (put), so a descriptor in use is never in
 *   the cache and never closed under a reader.
 * - The store drops a page's entry (drop) after every rename over it or
 *   unlink of it, and an export's entries (drop_owner) when the export
 *   closes.  Every drop bumps the generation; a reader notes it before
 *   it opens or takes, and put closes instead of caching when it has
 *   changed since: the reader may have opened the file a rename has
 *   just replaced.  (A drop of another page also stops the put: rarely
 *   worth caching less precisely.)
 * - A descriptor pins its inode, so its inode number is not reused while
 *   it is cached: comparing it with the name's is an exact check that the
 *   page was not replaced (what a reader without the guard does).
 */

#include <config.h>

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include <nbdkit-plugin.h>

#include "cleanup.h"
#include "store-fs-fdcache.h"

struct fd_entry {
  const void *owner;            /* the export, or NULL for a free slot */
  uint32_t page;
  int fd;
  uint64_t used;                /* the cache's clock at its last put */
  struct fs_fd_info info;
};

struct fs_fdcache {
  pthread_mutex_t lock;         /* guards everything below */
  uint64_t generation;          /* bumped by every drop */
  uint64_t clock;               /* counts puts, for LRU */
  unsigned max;
  struct fd_entry slot[];
};

struct fs_fdcache *
fs_fdcache_new (unsigned max)
{
  struct fs_fdcache *c = calloc (1, sizeof *c + max * sizeof c->slot[0]);

  if (c == NULL) {
    nbdkit_error ("calloc: %m");
    return NULL;
  }
  pthread_mutex_init (&c->lock, NULL);
  c->max = max;
  return c;
}

/* Close slot E and free it (lock held). */
static void
slot_close (struct fs_fdcache *c, struct fd_entry *e)
{
  close (e->fd);
  e->owner = NULL;
  c->generation++;
}

void
fs_fdcache_free (struct fs_fdcache *c)
{
  if (c == NULL)
    return;
  for (unsigned i = 0; i < c->max; ++i)
    if (c->slot[i].owner)
      slot_close (c, &c->slot[i]);
  pthread_mutex_destroy (&c->lock);
  free (c);
}

uint64_t
fs_fdcache_generation (struct fs_fdcache *c)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&c->lock);
  return c->generation;
}

static struct fd_entry *
find (struct fs_fdcache *c, const void *owner, uint32_t page)
{
  for (unsigned i = 0; i < c->max; ++i)
    if (c->slot[i].owner == owner && c->slot[i].page == page)
      return &c->slot[i];
  return NULL;
}

/* Take the cached descriptor of OWNER's PAGE out of the cache: the
 * descriptor (the caller's now) with *INFO set, or -1 if none.
 */
int
fs_fdcache_take (struct fs_fdcache *c, const void *owner, uint32_t page,
                 struct fs_fd_info *info)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&c->lock);
  struct fd_entry *e = find (c, owner, page);

  if (e == NULL)
    return -1;
  e->owner = NULL;
  *info = e->info;
  return e->fd;
}

/* Keep FD (a read descriptor of OWNER's PAGE, opened or taken when the
 * generation was GEN) for the next read, or close it: if a drop came
 * since GEN, or the page is cached already.  The LRU entry makes room.
 */
void
fs_fdcache_put (struct fs_fdcache *c, const void *owner, uint32_t page,
                int fd, const struct fs_fd_info *info, uint64_t gen)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&c->lock);
  struct fd_entry *e = NULL;

  if (gen != c->generation || c->max == 0 || find (c, owner, page)) {
    close (fd);
    return;
  }
  for (unsigned i = 0; i < c->max; ++i) {
    struct fd_entry *s = &c->slot[i];
    if (s->owner == NULL) {
      e = s;
      break;
    }
    if (e == NULL || s->used < e->used)
      e = s;
  }
  if (e->owner) {
    close (e->fd);              /* evicted: no generation change needed */
    e->owner = NULL;
  }
  *e = (struct fd_entry) {
    .owner = owner, .page = page, .fd = fd, .used = ++c->clock,
    .info = *info,
  };
}

/* Close OWNER's cached descriptor of PAGE, after the page was replaced
 * or removed, and stop the puts of readers that started before.
 */
void
fs_fdcache_drop (struct fs_fdcache *c, const void *owner, uint32_t page)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&c->lock);
  struct fd_entry *e = find (c, owner, page);

  if (e)
    slot_close (c, e);
  else
    c->generation++;
}

/* Close every cached descriptor of OWNER (its export is closing). */
void
fs_fdcache_drop_owner (struct fs_fdcache *c, const void *owner)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&c->lock);

  for (unsigned i = 0; i < c->max; ++i)
    if (c->slot[i].owner == owner)
      slot_close (c, &c->slot[i]);
  c->generation++;
}
