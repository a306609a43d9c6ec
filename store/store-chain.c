/* SPDX-License-Identifier: MIT
 *
 * The chain of a clone (store-chain.h): the clone's export (the top,
 * layer 0) and its bases (layers 1 to n-1, each the base of the one
 * above it, read-only snapshots), presented to the cache as one store
 * export, so that the cache and the plugin serve a clone as they serve
 * any export.  The chain has a small store of its own, whose methods
 * delegate to the real store's (the vtable is per store).
 *
 * Which layer answers a page is decided once, at open, from one listing
 * of every layer's pages and tombstones, and kept in a table of the pages
 * that any layer holds or tombstones (memory proportional to the stored
 * pages, never to the export's size): a read goes to that layer directly,
 * one request, never a probe down the chain.  The rules, per page:
 * - in the top, a page object wins over a tombstone (a crash between the
 *   two mutations below leaves both), and a tombstone wins over every
 *   base: the page reads as zeros;
 * - else the highest base that holds the page or a tombstone answers
 *   (a tombstone: zeros); a page object wins in a base too;
 * - a base's pages at or beyond its own size, or beyond the size of any
 *   base above it, are not seen: they read as zeros through it.
 * Mutations go to the top only, with the cache's rule of one mutation
 * per page at a time.  A write stores the page and then removes its
 * tombstone, if any.  A delete of a page that a base holds first stores
 * a tombstone, then deletes the top's page; of any other page it deletes
 * the page (and a stale tombstone), as in an export without a base.
 * Where two objects change, the first is durable before the second
 * changes (a sync between them, for a store that has sync), so that a
 * crash never shows a base's page where the clone had its own or zeros.
 * The table records what the top may hold: a flag is set before the
 * request that may store an object, and cleared only once its removal
 * succeeded, as the cache does for pages (a failed request may still
 * land).  A read of a page the top may hold falls through to the layers
 * below when the top turns out not to hold it.
 *
 * Guards, sync and cancel apply to the top, and so do named objects.
 * When the top's guard is taken again after a release (claim returns 1)
 * the table is built anew.  Page checksums are verified by the caller
 * (store_read_page) for whichever layer answered; the chain requires them
 * only if every layer does.  One mutex guards the table; no I/O runs
 * under it.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-plugin.h>

#include "cleanup.h"
#include "store-chain.h"

/* What the chain knows of one page. */
struct chain_entry {
  uint32_t page;
  bool used;                    /* a slot of the table holding a page */
  bool top_page;                /* the top may hold a page object */
  bool top_tomb;                /* the top may hold a tombstone */
  uint8_t below;                /* the base that answers (1..n-1), or 0:
                                 * none (a tombstone, or no page) */
};

/* Open addressing with linear probing, grown at 3/4; never shrinks
 * (an entry that says nothing stays until the table is built anew).
 */
struct chain_map {
  struct chain_entry *slots;
  size_t n, cap;                /* cap: 0 or a power of 2 */
};

/* The chain's store: the real store's methods, through the chain's. */
struct chain_store {
  struct store base;
  struct store_ops ops;         /* chain_ops, less what the real lacks */
  struct store *real;
};

struct chain_export {
  struct store_export base;     /* base.store is &store.base */
  struct chain_store store;
  unsigned nlayers;
  struct store_export *layers[STORE_CHAIN_MAX];   /* [0]: the top */
  uint64_t visible[STORE_CHAIN_MAX];    /* pages of layer I seen through
                                         * the layers above it (I >= 1) */
  bool checksums;               /* every layer requires checksums */
  pthread_mutex_t lock;         /* guards map */
  struct chain_map map;
};

static struct chain_export *
chain_of (struct store_export *se)
{
  return (struct chain_export *) se;
}

static struct store_export *
top_of (struct store_export *se)
{
  return chain_of (se)->layers[0];
}

/* ---- The page table ---- */

static size_t
map_slot (const struct chain_map *m, uint32_t page)
{
  uint32_t h = page * UINT32_C (0x9e3779b1);

  return (h ^ (h >> 15)) & (m->cap - 1);
}

/* The slot of PAGE: its entry, or the free slot where it would go. */
static struct chain_entry *
map_probe (const struct chain_map *m, uint32_t page)
{
  size_t i;

  for (i = map_slot (m, page); m->slots[i].used && m->slots[i].page != page;
       i = (i + 1) & (m->cap - 1))
    ;
  return &m->slots[i];
}

/* PAGE's entry, or NULL if the table has none. */
static const struct chain_entry *
map_find (const struct chain_map *m, uint32_t page)
{
  const struct chain_entry *en;

  if (m->cap == 0)
    return NULL;
  en = map_probe (m, page);
  return en->used ? en : NULL;
}

/* PAGE's entry, added (saying nothing) if missing.  NULL after
 * nbdkit_error (ENOMEM).
 */
static struct chain_entry *
map_add (struct chain_map *m, uint32_t page)
{
  struct chain_entry *en;

  if ((m->n + 1) * 4 > m->cap * 3) {    /* grow at 3/4 */
    struct chain_map grown = { .cap = m->cap ? m->cap * 2 : 1024 };

    grown.slots = calloc (grown.cap, sizeof *grown.slots);
    if (grown.slots == NULL) {
      nbdkit_error ("chain: out of memory for the page table");
      errno = ENOMEM;
      return NULL;
    }
    for (size_t i = 0; i < m->cap; ++i)
      if (m->slots[i].used)
        *map_probe (&grown, m->slots[i].page) = m->slots[i];
    grown.n = m->n;
    free (m->slots);
    *m = grown;
  }
  en = map_probe (m, page);
  if (!en->used) {
    *en = (struct chain_entry) { .page = page, .used = true };
    m->n++;
  }
  return en;
}

/* Does the chain hold data for EN (else it reads as zeros)? */
static bool
entry_has_data (const struct chain_entry *en)
{
  return en->top_page || (!en->top_tomb && en->below != 0);
}

/* What the chain knows of PAGE (all false if nothing). */
static struct chain_entry
lookup (struct chain_export *c, uint32_t page)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&c->lock);
  const struct chain_entry *en = map_find (&c->map, page);

  return en ? *en : (struct chain_entry) { .page = page };
}

/* Set the top's flag TOMB (a tombstone) or not (a page object) of PAGE
 * to VALUE.  Returns the entry as it was before, or -1 in *R after
 * nbdkit_error.
 */
static struct chain_entry
set_top (struct chain_export *c, uint32_t page, bool tomb, bool value,
         int *r)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&c->lock);
  struct chain_entry *en = map_add (&c->map, page), before;

  *r = en ? 0 : -1;
  if (en == NULL)
    return (struct chain_entry) { .page = page };
  before = *en;
  if (tomb)
    en->top_tomb = value;
  else
    en->top_page = value;
  return before;
}

/* ---- Building the table from the layers' listings ---- */

struct build_ctx {
  struct chain_map *map;
  unsigned layer;
  uint64_t visible;             /* pages of the layer seen (bases) */
  bool tomb;                    /* listing tombstones, not pages */
};

static int
build_add (void *opaque, uint32_t page)
{
  struct build_ctx *ctx = opaque;
  struct chain_entry *en;

  if (ctx->layer > 0 && page >= ctx->visible)
    return 0;                   /* beyond a base's end: zeros */
  if ((en = map_add (ctx->map, page)) == NULL)
    return -1;
  if (ctx->layer == 0 && ctx->tomb)
    en->top_tomb = true;
  else if (ctx->layer == 0)
    en->top_page = true;
  else
    en->below = ctx->tomb ? 0 : ctx->layer;
  return 0;
}

/* List the pages and tombstones of every layer into M, from the bottom
 * up, each layer's tombstones before its pages, so that what wins is
 * listed last.  0 or -1.
 */
static int
build_map (struct chain_export *c, struct chain_map *m)
{
  for (unsigned i = c->nlayers; i-- > 0;) {
    struct build_ctx ctx = { m, i, c->visible[i], true };

    if (store_list_tombstones (c->layers[i], build_add, &ctx) == -1)
      return -1;
    ctx.tomb = false;
    if (store_list_pages (c->layers[i], build_add, &ctx) == -1)
      return -1;
  }
  return 0;
}

/* Build the table anew, replacing the one in use.  0 or -1. */
static int
rebuild_map (struct chain_export *c)
{
  struct chain_map fresh = { 0 };

  if (build_map (c, &fresh) == -1) {
    free (fresh.slots);
    return -1;
  }
  pthread_mutex_lock (&c->lock);
  free (c->map.slots);
  c->map = fresh;
  pthread_mutex_unlock (&c->lock);
  return 0;
}

/* ---- Pages ---- */

static int
chain_list_pages (struct store_export *se,
                  int (*fn) (void *opaque, uint32_t page), void *opaque)
{
  struct chain_export *c = chain_of (se);
  CLEANUP_FREE uint32_t *pages = NULL;
  size_t n = 0;

  /* A copy, so that FN runs without the lock. */
  pthread_mutex_lock (&c->lock);
  pages = malloc ((c->map.n ? c->map.n : 1) * sizeof *pages);
  for (size_t i = 0; pages && i < c->map.cap; ++i)
    if (c->map.slots[i].used && entry_has_data (&c->map.slots[i]))
      pages[n++] = c->map.slots[i].page;
  pthread_mutex_unlock (&c->lock);
  if (pages == NULL) {
    nbdkit_error ("chain: out of memory listing export '%s'", se->name);
    errno = ENOMEM;
    return -1;
  }
  for (size_t i = 0; i < n; ++i)
    if (fn (opaque, pages[i]) == -1)
      return -1;
  return 0;
}

/* Read PAGE of layer L with its method (the caller verifies the
 * checksum).
 */
static int
layer_read (struct store_export *l, uint32_t page, void *buf, size_t len,
            struct store_checksum *sum)
{
  return l->store->ops->read_page (l, page, buf, len, sum);
}

static int
chain_read_page (struct store_export *se, uint32_t page, void *buf,
                 size_t len, struct store_checksum *sum)
{
  struct chain_export *c = chain_of (se);
  struct chain_entry en = lookup (c, page);
  int r;

  if (en.top_page && (r = layer_read (c->layers[0], page, buf, len, sum)) != 0)
    return r;
  if (en.top_tomb || en.below == 0)
    return 0;
  return layer_read (c->layers[en.below], page, buf, len, sum);
}

static int
chain_write_page (struct store_export *se, uint32_t page, const void *buf,
                  size_t len, const struct store_checksum *sum)
{
  struct chain_export *c = chain_of (se);
  struct store_export *top = c->layers[0];
  int r;
  struct chain_entry before = set_top (c, page, false, true, &r);

  if (r == -1 || top->store->ops->write_page (top, page, buf, len, sum) == -1)
    return -1;
  if (!before.top_tomb)
    return 0;
  /* The page wins over the tombstone once both are durable (FS: a sync
   * between them, else a crash could keep the removal alone).
   */
  if (store_sync (top) == -1 || store_remove_tombstone (top, page) == -1)
    return -1;
  set_top (c, page, true, false, &r);
  return r;
}

/* Delete the top's page object of PAGE, if it may hold one. */
static int
delete_top_page (struct chain_export *c, uint32_t page,
                 const struct chain_entry *en)
{
  struct store_export *top = c->layers[0];
  int r;

  if (!en->top_page)
    return 0;
  if (top->store->ops->delete_page (top, page) == -1)
    return -1;
  set_top (c, page, false, false, &r);
  return r;
}

static int
chain_delete_page (struct store_export *se, uint32_t page)
{
  struct chain_export *c = chain_of (se);
  struct store_export *top = c->layers[0];
  struct chain_entry en = lookup (c, page);
  int r;

  if (en.below == 0) {          /* no base holds it: as without a base */
    if (delete_top_page (c, page, &en) == -1)
      return -1;
    if (!en.top_tomb)
      return 0;
    if (store_remove_tombstone (top, page) == -1)
      return -1;
    set_top (c, page, true, false, &r);
    return r;
  }
  /* The tombstone first, durable (FS: a sync) before the top's page
   * goes, so that no crash shows the base's page instead.
   */
  set_top (c, page, true, true, &r);
  if (r == -1 || store_put_tombstone (top, page) == -1)
    return -1;
  if (en.top_page && store_sync (top) == -1)
    return -1;
  return delete_top_page (c, page, &en);
}

/* ---- The rest: delegated to the top, or the real store ---- */

static int
chain_read_meta (struct store_export *se, struct store_meta *meta)
{
  struct store_export *top = top_of (se);
  int r = top->store->ops->read_meta (top, meta);

  if (r == 1)
    meta->checksums = chain_of (se)->checksums;
  return r;
}

static int
chain_write_meta (struct store_export *se, const struct store_meta *meta)
{
  struct store_export *top = top_of (se);

  return top->store->ops->write_meta (top, meta);
}

static int
chain_sync (struct store_export *se)
{
  struct store_export *top = top_of (se);

  return top->store->ops->sync (top);
}

static int
chain_claim (struct store_export *se)
{
  struct store_export *top = top_of (se);
  int r = top->store->ops->claim (top);

  /* Another process may have written the top meanwhile. */
  if (r == 1 && rebuild_map (chain_of (se)) == -1)
    return -1;
  return r;
}

static bool
chain_unclaim (struct store_export *se)
{
  struct store_export *top = top_of (se);

  return top->store->ops->unclaim (top);
}

static void
chain_close_export (struct store_export *se)
{
  struct chain_export *c = chain_of (se);

  for (unsigned i = 0; i < c->nlayers; ++i)
    store_close_export (c->layers[i]);
  free (c->map.slots);
  pthread_mutex_destroy (&c->lock);
  free (c);
}

static int
chain_list_objects (struct store_export *se,
                    int (*fn) (void *opaque, const char *name,
                               uint64_t size),
                    void *opaque)
{
  return store_list_objects (top_of (se), fn, opaque);
}

static int
chain_put_object (struct store_export *se, const char *name, const void *buf,
                  size_t len, bool exclusive)
{
  return store_put_object (top_of (se), name, buf, len, exclusive);
}

static int
chain_get_object (struct store_export *se, const char *name, void *buf,
                  size_t cap, size_t *len)
{
  return store_get_object (top_of (se), name, buf, cap, len);
}

static int
chain_remove_object (struct store_export *se, const char *name)
{
  return store_remove_object (top_of (se), name);
}

/* Snapshots (store-snap.c) of a clone hold what its top holds: the
 * top's pages with their versions and its tombstones, copied from the
 * top; the snapshot keeps the clone's base.
 */
static int
chain_list_page_versions (struct store_export *se,
                          int (*fn) (void *opaque, uint32_t page,
                                     const char *version),
                          void *opaque)
{
  return store_list_page_versions (top_of (se), fn, opaque);
}

static int
chain_list_tombstones (struct store_export *se,
                       int (*fn) (void *opaque, uint32_t page), void *opaque)
{
  return store_list_tombstones (top_of (se), fn, opaque);
}

static int
chain_check_guard (struct store_export *se)
{
  return store_check_guard (top_of (se));
}

static int
chain_copy_object (struct store_export *se, const char *name,
                   const char *version, uint64_t size,
                   struct store_export *dst)
{
  return store_copy_object (top_of (se), name, version, size, dst);
}

static struct store *
real_of (struct store *st)
{
  return ((struct chain_store *) st)->real;
}

static int
chain_ready (struct store *st)
{
  return store_ready (real_of (st));
}

static int
chain_list_exports (struct store *st,
                    int (*fn) (void *opaque, const char *name), void *opaque)
{
  return store_list_exports (real_of (st), fn, opaque);
}

static struct store_export *
chain_open_export (struct store *st, const char *name)
{
  return real_of (st)->ops->open_export (real_of (st), name);
}

static void
chain_cancel (struct store *st)
{
  store_cancel (real_of (st));
}

static void
chain_free (struct store *st)
{
  /* Part of its chain export, freed with it. */
}

static const struct store_ops chain_ops = {
  .ready = chain_ready,
  .list_exports = chain_list_exports,
  .open_export = chain_open_export,
  .read_meta = chain_read_meta,
  .write_meta = chain_write_meta,
  .list_pages = chain_list_pages,
  .read_page = chain_read_page,
  .write_page = chain_write_page,
  .delete_page = chain_delete_page,
  .close_export = chain_close_export,
  .free = chain_free,
  .sync = chain_sync,
  .cancel = chain_cancel,
  .claim = chain_claim,
  .unclaim = chain_unclaim,
  .list_objects = chain_list_objects,
  .put_object = chain_put_object,
  .get_object = chain_get_object,
  .remove_object = chain_remove_object,
  .list_page_versions = chain_list_page_versions,
  .list_tombstones = chain_list_tombstones,
  .copy_object = chain_copy_object,
  .check_guard = chain_check_guard,
};

/* ---- Opening the chain ---- */

/* Pages of an export of SIZE bytes in pages of PAGE_SIZE. */
static uint64_t
pages_of (uint64_t size, uint32_t page_size)
{
  return (size + page_size - 1) / page_size;
}

/* Is NAME a layer of C already (a loop)? */
static bool
in_chain (const struct chain_export *c, const char *name)
{
  for (unsigned i = 0; i < c->nlayers; ++i)
    if (strcmp (c->layers[i]->name, name) == 0)
      return true;
  return false;
}

/* Open NAME, the base of C's lowest layer, as its next layer, and check
 * it (see store_chain_open); its metadata into META.  0 or -1 after
 * nbdkit_error.
 */
static int
open_base (struct chain_export *c, struct store *s, const char *name,
           struct store_meta *meta)
{
  const char *above = c->layers[c->nlayers - 1]->name;
  const char *top = c->layers[0]->name;
  struct store_export *l;
  int r;

  if (in_chain (c, name)) {
    nbdkit_error ("export '%s': its chain of bases loops at '%s' (the "
                  "base of '%s'): the export cannot be served", top, name,
                  above);
    errno = ELOOP;
    return -1;
  }
  if (c->nlayers == STORE_CHAIN_MAX) {
    nbdkit_error ("export '%s': its chain of bases is deeper than %d "
                  "layers (at '%s', the base of '%s'): the export cannot "
                  "be served", top, STORE_CHAIN_MAX, name, above);
    errno = ELOOP;
    return -1;
  }
  if ((l = store_open_export (s, name)) == NULL)
    return -1;
  c->layers[c->nlayers++] = l;
  r = store_read_meta (l, meta);
  if (r == -1)
    return -1;
  if (r == 0) {
    nbdkit_error ("export '%s': its base '%s' (the base of '%s') does not "
                  "exist: was it deleted?", top, name, above);
    errno = ENOENT;
    return -1;
  }
  if (!meta->read_only) {
    nbdkit_error ("export '%s': its base '%s' (the base of '%s') is not "
                  "read-only: a base must be a snapshot, which nothing "
                  "writes", top, name, above);
    errno = EINVAL;
    return -1;
  }
  return 0;
}

struct store_export *
store_chain_open (struct store *s, struct store_export *top,
                  const struct store_meta *meta)
{
  struct chain_export *c = calloc (1, sizeof *c);
  struct store_meta base;
  uint64_t visible = pages_of (meta->size, meta->page_size);

  if (c == NULL || (c->base.name = strdup (top->name)) == NULL) {
    nbdkit_error ("chain: out of memory opening export '%s'", top->name);
    free (c);
    return NULL;
  }
  pthread_mutex_init (&c->lock, NULL);
  c->layers[0] = top;
  c->nlayers = 1;
  c->checksums = meta->checksums;
  c->store.real = s;
  base = *meta;
  while (base.base[0]) {
    char name[STORE_EXPORT_NAME_MAX + 1];
    uint32_t page_size = base.page_size;

    strcpy (name, base.base);
    if (open_base (c, s, name, &base) == -1)
      goto err;
    if (base.page_size != page_size) {
      nbdkit_error ("export '%s': its base '%s' has page size %" PRIu32
                    ", not %" PRIu32 " as the export above it: the export "
                    "cannot be served", top->name, name, base.page_size,
                    page_size);
      errno = EINVAL;
      goto err;
    }
    if (pages_of (base.size, base.page_size) < visible)
      visible = pages_of (base.size, base.page_size);
    c->visible[c->nlayers - 1] = visible;
    c->checksums &= base.checksums;
  }
  if (build_map (c, &c->map) == -1)
    goto err;

  c->store.ops = chain_ops;
  c->store.ops.name = s->ops->name;
  if (top->store->ops->sync == NULL)
    c->store.ops.sync = NULL;
  if (s->ops->cancel == NULL)
    c->store.ops.cancel = NULL;
  if (top->store->ops->claim == NULL)
    c->store.ops.claim = NULL;
  if (top->store->ops->unclaim == NULL)
    c->store.ops.unclaim = NULL;
  c->store.base.ops = &c->store.ops;
  c->base.store = &c->store.base;
  c->base.checksums_required = c->checksums;
  nbdkit_debug ("chain: export '%s': %u layers, %zu pages known",
                top->name, c->nlayers, c->map.n);
  return &c->base;

 err:
  c->layers[0] = NULL;          /* still the caller's */
  for (unsigned i = 1; i < c->nlayers; ++i)
    store_close_export (c->layers[i]);
  free (c->map.slots);
  pthread_mutex_destroy (&c->lock);
  free (c->base.name);
  free (c);
  return NULL;
}
