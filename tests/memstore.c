/* SPDX-License-Identifier: MIT
 *
 * The fault-injecting in-memory store of memstore.h.  It keeps one export
 * (whatever its name) as an array of page pointers, behind one mutex.
 * Only unit tests link it.
 */

#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nbdkit-plugin.h>

#include "memstore.h"

#define MAX_PAGES 4096

struct memstore {
  struct store base;
  struct store_export exp;
  pthread_mutex_t lock;         /* guards everything below */
  pthread_cond_t gate_cond;
  uint32_t page_size;
  void *pages[MAX_PAGES];
  struct store_checksum sums[MAX_PAGES];  /* kept with each page */
  bool unlisted[MAX_PAGES];     /* memstore_put_unlisted, not read since */
  bool have_meta;
  struct store_meta meta;
  unsigned counts[MS_NR_OPS];
  int fail[MS_NR_OPS];
  unsigned delay_ms[MS_NR_OPS];
  bool gate_closed;
  unsigned gate_waiters;
  char log[65536];
};

static struct memstore *
from_export (struct store_export *e)
{
  return (struct memstore *) e->store;
}

/* Count OP, apply its delay and gate, and return its injected error. */
static int
enter (struct memstore *m, enum memstore_op op)
{
  unsigned ms;
  int err;

  pthread_mutex_lock (&m->lock);
  m->counts[op]++;
  ms = m->delay_ms[op];
  if (op == MS_WRITE || op == MS_DELETE) {
    m->gate_waiters++;
    while (m->gate_closed)
      pthread_cond_wait (&m->gate_cond, &m->lock);
    m->gate_waiters--;
  }
  err = m->fail[op];
  pthread_mutex_unlock (&m->lock);
  if (ms) {
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep (&ts, NULL);
  }
  if (err) {
    nbdkit_error ("memstore: injected failure");
    errno = err;
    return -1;
  }
  return 0;
}

static int
ms_ready (struct store *s)
{
  return 0;
}

static int
ms_list_exports (struct store *s, int (*fn) (void *, const char *),
                 void *opaque)
{
  struct memstore *m = (struct memstore *) s;

  return m->have_meta ? fn (opaque, "e") : 0;
}

static struct store_export *
ms_open_export (struct store *s, const char *name)
{
  return &((struct memstore *) s)->exp;
}

static int
ms_read_meta (struct store_export *e, struct store_meta *meta)
{
  struct memstore *m = from_export (e);

  if (!m->have_meta)
    return 0;
  *meta = m->meta;
  return 1;
}

static int
ms_write_meta (struct store_export *e, const struct store_meta *meta)
{
  struct memstore *m = from_export (e);

  m->meta = *meta;
  m->have_meta = true;
  return 0;
}

static int
ms_list_pages (struct store_export *e, int (*fn) (void *, uint32_t),
               void *opaque)
{
  struct memstore *m = from_export (e);

  if (enter (m, MS_LIST) == -1)
    return -1;
  for (uint32_t i = 0; i < MAX_PAGES; ++i)
    if (m->pages[i] && !m->unlisted[i] && fn (opaque, i) == -1)
      return -1;
  return 0;
}

static int
ms_read_page (struct store_export *e, uint32_t page, void *buf, size_t len,
              struct store_checksum *sum)
{
  struct memstore *m = from_export (e);
  int r = 0;

  if (enter (m, MS_READ) == -1)
    return -1;
  pthread_mutex_lock (&m->lock);
  if (page < MAX_PAGES && m->pages[page]) {
    memcpy (buf, m->pages[page], len);
    *sum = m->sums[page];
    m->unlisted[page] = false;
    r = 1;
  }
  pthread_mutex_unlock (&m->lock);
  return r;
}

static void
log_op (struct memstore *m, char op, uint32_t page)
{
  size_t len = strlen (m->log);

  snprintf (m->log + len, sizeof m->log - len, "%s%c%u",
            len ? " " : "", op, page);
}

static int
ms_write_page (struct store_export *e, uint32_t page, const void *buf,
               size_t len, const struct store_checksum *sum)
{
  struct memstore *m = from_export (e);
  void *copy;

  if (enter (m, MS_WRITE) == -1)
    return -1;
  copy = malloc (len);
  if (copy == NULL || page >= MAX_PAGES)
    abort ();
  memcpy (copy, buf, len);
  pthread_mutex_lock (&m->lock);
  if (m->unlisted[page]) {
    m->unlisted[page] = false;
    pthread_mutex_unlock (&m->lock);
    free (copy);
    nbdkit_error ("memstore: page %u exists although unlisted", page);
    errno = EEXIST;
    return -1;
  }
  free (m->pages[page]);
  m->pages[page] = copy;
  m->sums[page] = *sum;
  log_op (m, 'W', page);
  pthread_mutex_unlock (&m->lock);
  return 0;
}

static int
ms_delete_page (struct store_export *e, uint32_t page)
{
  struct memstore *m = from_export (e);

  if (enter (m, MS_DELETE) == -1)
    return -1;
  pthread_mutex_lock (&m->lock);
  free (m->pages[page]);
  m->pages[page] = NULL;
  m->unlisted[page] = false;
  log_op (m, 'D', page);
  pthread_mutex_unlock (&m->lock);
  return 0;
}

static int
ms_sync (struct store_export *e)
{
  return enter (from_export (e), MS_SYNC);
}

static void
ms_close_export (struct store_export *e)
{
}

static void
ms_free (struct store *s)
{
}

static const struct store_ops memstore_ops = {
  .name = "mem",
  .ready = ms_ready,
  .list_exports = ms_list_exports,
  .open_export = ms_open_export,
  .read_meta = ms_read_meta,
  .write_meta = ms_write_meta,
  .list_pages = ms_list_pages,
  .read_page = ms_read_page,
  .write_page = ms_write_page,
  .delete_page = ms_delete_page,
  .close_export = ms_close_export,
  .free = ms_free,
  .sync = ms_sync,
};

struct memstore *
memstore_new (uint32_t page_size)
{
  struct memstore *m = calloc (1, sizeof *m);

  if (m == NULL)
    abort ();
  m->base.ops = &memstore_ops;
  m->exp.store = &m->base;
  m->page_size = page_size;
  pthread_mutex_init (&m->lock, NULL);
  pthread_cond_init (&m->gate_cond, NULL);
  return m;
}

struct store *
memstore_store (struct memstore *m)
{
  return &m->base;
}

void
memstore_free (struct memstore *m)
{
  for (uint32_t i = 0; i < MAX_PAGES; ++i)
    free (m->pages[i]);
  pthread_mutex_destroy (&m->lock);
  pthread_cond_destroy (&m->gate_cond);
  free (m);
}

unsigned
memstore_count (struct memstore *m, enum memstore_op op)
{
  unsigned n;

  pthread_mutex_lock (&m->lock);
  n = m->counts[op];
  pthread_mutex_unlock (&m->lock);
  return n;
}

void
memstore_fail (struct memstore *m, enum memstore_op op, int err)
{
  pthread_mutex_lock (&m->lock);
  m->fail[op] = err;
  pthread_mutex_unlock (&m->lock);
}

void
memstore_delay (struct memstore *m, enum memstore_op op, unsigned ms)
{
  pthread_mutex_lock (&m->lock);
  m->delay_ms[op] = ms;
  pthread_mutex_unlock (&m->lock);
}

void
memstore_gate (struct memstore *m, bool closed)
{
  pthread_mutex_lock (&m->lock);
  m->gate_closed = closed;
  pthread_cond_broadcast (&m->gate_cond);
  pthread_mutex_unlock (&m->lock);
}

unsigned
memstore_gate_waiters (struct memstore *m)
{
  unsigned n;

  pthread_mutex_lock (&m->lock);
  n = m->gate_waiters;
  pthread_mutex_unlock (&m->lock);
  return n;
}

void
memstore_put (struct memstore *m, uint32_t index, const void *buf)
{
  void *copy = malloc (m->page_size);

  if (copy == NULL)
    abort ();
  memcpy (copy, buf, m->page_size);
  pthread_mutex_lock (&m->lock);
  free (m->pages[index]);
  m->pages[index] = copy;
  m->sums[index].present = false;       /* as if from before checksums */
  m->have_meta = true;
  pthread_mutex_unlock (&m->lock);
}

void
memstore_put_unlisted (struct memstore *m, uint32_t index, const void *buf)
{
  memstore_put (m, index, buf);
  pthread_mutex_lock (&m->lock);
  m->unlisted[index] = true;
  pthread_mutex_unlock (&m->lock);
}

void
memstore_copy (struct memstore *m, uint32_t from, uint32_t to)
{
  void *copy = malloc (m->page_size);

  if (copy == NULL || from >= MAX_PAGES || to >= MAX_PAGES)
    abort ();
  pthread_mutex_lock (&m->lock);
  memcpy (copy, m->pages[from], m->page_size);
  free (m->pages[to]);
  m->pages[to] = copy;
  m->sums[to] = m->sums[from];
  pthread_mutex_unlock (&m->lock);
}

void
memstore_corrupt (struct memstore *m, uint32_t index, size_t offset)
{
  pthread_mutex_lock (&m->lock);
  if (index < MAX_PAGES && m->pages[index])
    ((unsigned char *) m->pages[index])[offset] ^= 1;
  pthread_mutex_unlock (&m->lock);
}

bool
memstore_get (struct memstore *m, uint32_t index, void *buf)
{
  bool found;

  pthread_mutex_lock (&m->lock);
  found = m->pages[index] != NULL;
  if (found)
    memcpy (buf, m->pages[index], m->page_size);
  pthread_mutex_unlock (&m->lock);
  return found;
}

const char *
memstore_log (struct memstore *m)
{
  return m->log;
}
