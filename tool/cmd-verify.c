/* SPDX-License-Identifier: MIT
 *
 * nbds3 verify EXPORT: check an export offline, with what a server
 * would read.  Its metadata must parse and be sane (page size 4k..64M, a
 * size that fits in 2^32 pages, a base that exists); every object under
 * it must be one nbds3 makes: a page page-%08x.bin of exactly the page
 * size within the export's size, whose checksum holds (each page is read
 * through store_read_page, which verifies it, and fails a page without
 * one when the metadata says checksums=required), an empty tombstone
 * page-%08x.zero within the size, the metadata, guard and snapshot
 * objects, or a clones/<clone> back-reference.  Anything else is an
 * orphan.  Temporary files (names starting with '.' that contain ".tmp.")
 * are listed: a crash left them, unless a server holds the export and is
 * writing them.  Every problem names its page or object; any makes the
 * command exit 1.
 *
 * Pages are read by a few threads at once (more on S3, where each read
 * is a round trip), each with one page buffer, within a memory bound.
 */

#include <config.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-plugin.h>

#include "options.h"
#include "store-s3-lease.h"
#include "store.h"
#include "tool.h"

#define READERS_S3 8
#define READERS_FS 2
#define READ_MEMORY (256 << 20) /* page buffers of the readers, at most */

/* The objects an export may hold besides pages, tombstones and
 * clones/<clone>: its metadata, its guard (S3's lease, FS's holder file)
 * and a snapshot's request and point records.
 */
static const char *const known_objects[] = {
  STORE_META_NAME, S3_LEASE_NAME, STORE_HOLDER_NAME, "nbds3.snapreq",
  "nbds3.snappoint",
};

struct problem {
  char *object;                 /* the object's name, or "" */
  int64_t page;                 /* its page, or -1 */
  char *what;
};

struct verify {
  struct store_export *e;
  const struct store_meta *meta;
  uint64_t npages;              /* pages the size spans */
  uint32_t *to_read;            /* the pages to read */
  size_t nread, read_cap;
  uint64_t tombstones, objects;
  struct tool_names temporary;
  pthread_mutex_t lock;         /* guards problems and next */
  struct problem *problems;
  size_t nproblems;
  size_t next;                  /* the next of to_read to read */
  bool failed;                  /* out of memory: stop */
};

/* Record a problem of OBJECT (PAGE or -1).  Takes the lock. */
static void __attribute__ ((format (printf, 4, 5)))
problem (struct verify *v, const char *object, int64_t page,
         const char *fs, ...)
{
  struct problem p = { .page = page };
  va_list args;
  int n;

  va_start (args, fs);
  n = vasprintf (&p.what, fs, args);
  va_end (args);
  p.object = strdup (object);
  pthread_mutex_lock (&v->lock);
  struct problem *more = n < 0 || p.object == NULL ? NULL
    : realloc (v->problems, (v->nproblems + 1) * sizeof *more);
  if (more == NULL) {
    v->failed = true;
    free (p.object);
    if (n >= 0)
      free (p.what);
  }
  else {
    v->problems = more;
    v->problems[v->nproblems++] = p;
  }
  pthread_mutex_unlock (&v->lock);
}

static bool
is_temporary (const char *name)
{
  const char *leaf = strrchr (name, '/');

  leaf = leaf ? leaf + 1 : name;
  return leaf[0] == '.' && strstr (leaf, ".tmp.") != NULL;
}

/* Classify one object of the listing. */
static int
check_object (void *opaque, const char *name, uint64_t size)
{
  struct verify *v = opaque;
  const size_t dir_len = strlen (TOOL_CLONES_DIR);
  uint32_t page;

  v->objects++;
  if (store_page_name_parse (name, &page)) {
    if (page >= v->npages)
      problem (v, name, page, "page %" PRIu32 " is beyond the export's "
               "end (it has %" PRIu64 " pages)", page, v->npages);
    else if (size != v->meta->page_size)
      problem (v, name, page, "page %" PRIu32 " is %" PRIu64 " bytes, not "
               "the page size %" PRIu32 " (truncated?)", page, size,
               v->meta->page_size);
    else {
      if (v->nread == v->read_cap) {
        size_t cap = v->read_cap ? 2 * v->read_cap : 256;
        uint32_t *more = realloc (v->to_read, cap * sizeof *more);

        if (more == NULL) {
          nbdkit_error ("out of memory");
          return -1;
        }
        v->to_read = more;
        v->read_cap = cap;
      }
      v->to_read[v->nread++] = page;
    }
    return 0;
  }
  if (store_tombstone_name_parse (name, &page)) {
    v->tombstones++;
    if (page >= v->npages)
      problem (v, name, page, "tombstone of page %" PRIu32 " is beyond the "
               "export's end (it has %" PRIu64 " pages)", page, v->npages);
    else if (size != 0)
      problem (v, name, page, "tombstone of page %" PRIu32 " is %" PRIu64
               " bytes: a tombstone is empty", page, size);
    return 0;
  }
  for (size_t i = 0; i < sizeof known_objects / sizeof known_objects[0]; ++i)
    if (strcmp (name, known_objects[i]) == 0)
      return 0;
  if (strncmp (name, TOOL_CLONES_DIR, dir_len) == 0 &&
      store_export_name_valid (name + dir_len))
    return 0;
  if (is_temporary (name))
    return tool_names_add (&v->temporary, name);
  problem (v, name, -1, "not an object nbds3 makes (an orphan)");
  return 0;
}

/* A reader thread: reads pages of V->to_read until none is left. */
static void *
reader (void *opaque)
{
  struct verify *v = opaque;
  const uint32_t len = v->meta->page_size;
  char *buf = malloc (len), msg[1024];

  if (buf == NULL) {
    pthread_mutex_lock (&v->lock);
    v->failed = true;
    pthread_mutex_unlock (&v->lock);
    return NULL;
  }
  for (;;) {
    size_t i;
    uint32_t page;
    char name[STORE_PAGE_NAME_LEN + 1];
    int r;

    pthread_mutex_lock (&v->lock);
    i = v->failed ? v->nread : v->next++;
    pthread_mutex_unlock (&v->lock);
    if (i >= v->nread)
      break;
    page = v->to_read[i];
    snprintf (name, sizeof name, STORE_PAGE_NAME_FMT, page);
    tool_nbdkit_capture (msg, sizeof msg);
    r = store_read_page (v->e, page, buf, len);
    tool_nbdkit_capture (NULL, 0);
    if (r == 0)
      problem (v, name, page, "page %" PRIu32 " was listed but is gone "
               "(deleted meanwhile?)", page);
    else if (r == -1)
      problem (v, name, page, "%s", msg[0] ? msg : "cannot be read");
  }
  free (buf);
  return NULL;
}

/* Read every page of V->to_read with a few threads.  0, or -1 after
 * nbdkit_error.
 */
static int
read_pages (struct verify *v)
{
  size_t nthreads = config.s3.bucket ? READERS_S3 : READERS_FS;
  pthread_t threads[READERS_S3];
  size_t started = 0;
  int err = 0;

  if (nthreads > READ_MEMORY / v->meta->page_size)
    nthreads = READ_MEMORY / v->meta->page_size;
  if (config.s3.bucket && nthreads > config.s3.connections)
    nthreads = config.s3.connections;
  if (nthreads > v->nread)
    nthreads = v->nread;
  if (nthreads == 0)
    nthreads = v->nread ? 1 : 0;
  for (; started < nthreads; ++started)
    if ((err = pthread_create (&threads[started], NULL, reader, v)) != 0)
      break;
  if (started == 0 && v->nread)
    reader (v);                 /* no thread: read them here */
  for (size_t i = 0; i < started; ++i)
    pthread_join (threads[i], NULL);
  if (v->failed) {
    nbdkit_error ("verify: out of memory");
    return -1;
  }
  return 0;
}

/* The metadata's sanity: problems of nbds3.meta. */
static void
check_meta (struct verify *v, const char *name)
{
  const struct store_meta *m = v->meta;
  struct store_export *base;
  struct store_meta bm;

  if (m->size == 0)
    problem (v, STORE_META_NAME, -1, "the size is 0");
  if (m->page_size < CONFIG_MIN_PAGE_SIZE ||
      m->page_size > CONFIG_MAX_PAGE_SIZE)
    problem (v, STORE_META_NAME, -1, "the page size %" PRIu32 " is not "
             "between 4k and 64M", m->page_size);
  if (v->npages > (uint64_t) UINT32_MAX + 1)
    problem (v, STORE_META_NAME, -1, "the size %" PRIu64 " is more than "
             "2^32 pages", m->size);
  if (m->base[0] && strcmp (m->base, name) == 0)
    problem (v, STORE_META_NAME, -1, "the export is its own base");
  else if (m->base[0]) {
    if (tool_open_export (m->base, true, &base, &bm, NULL) != TOOL_OK)
      problem (v, STORE_META_NAME, -1, "its base '%s' cannot be read (see "
               "the error above)", m->base);
    else {
      /* What the plugin's chain (store-chain.c) refuses to serve. */
      if (!bm.read_only)
        problem (v, STORE_META_NAME, -1, "its base '%s' is not read-only "
                 "(a snapshot): the plugin does not serve it", m->base);
      if (bm.page_size != m->page_size)
        problem (v, STORE_META_NAME, -1, "its base '%s' has page size %"
                 PRIu32 ", not %" PRIu32 ": the plugin does not serve it",
                 m->base, bm.page_size, m->page_size);
      store_close_export (base);
    }
  }
}

static int
compare_problems (const void *a, const void *b)
{
  const struct problem *p = a, *q = b;

  if (p->page != q->page)
    return p->page < q->page ? -1 : 1;
  return strcmp (p->object, q->object);
}

static int
report (const struct tool_args *args, const char *name, struct verify *v,
        bool held)
{
  const bool temps_are_problems = !held && v->temporary.n > 0;
  const bool ok = v->nproblems == 0 && !temps_are_problems;

  if (args->json) {
    struct tool_json j;

    tool_json_init (&j);
    tool_json_begin_object (&j, NULL);
    tool_json_string (&j, "export", name);
    tool_json_string (&j, "store", tool_store_where ());
    tool_json_bool (&j, "ok", ok);
    tool_json_u64 (&j, "objects", v->objects);
    tool_json_u64 (&j, "pages-read", v->nread);
    tool_json_u64 (&j, "tombstones", v->tombstones);
    tool_json_bool (&j, "held", held);
    tool_json_begin_array (&j, "problems");
    for (size_t i = 0; i < v->nproblems; ++i) {
      tool_json_begin_object (&j, NULL);
      tool_json_string (&j, "object", v->problems[i].object);
      if (v->problems[i].page >= 0)
        tool_json_u64 (&j, "page", v->problems[i].page);
      tool_json_string (&j, "problem", v->problems[i].what);
      tool_json_end_object (&j);
    }
    tool_json_end_array (&j);
    tool_json_begin_array (&j, "temporary");
    for (size_t i = 0; i < v->temporary.n; ++i)
      tool_json_string (&j, NULL, v->temporary.v[i]);
    tool_json_end_array (&j);
    tool_json_end_object (&j);
    if (tool_json_finish (&j) != TOOL_OK)
      return TOOL_PROBLEM;
  }
  else {
    for (size_t i = 0; i < v->nproblems; ++i)
      printf ("%s: %s\n", v->problems[i].object, v->problems[i].what);
    for (size_t i = 0; i < v->temporary.n; ++i)
      printf ("%s: a temporary file%s\n", v->temporary.v[i],
              held ? " (the server holding the export may be writing it)"
              : " a crash left (a server removes it when it next takes "
              "the export)");
    printf ("export '%s': %" PRIu64 " objects, %zu pages read, %" PRIu64
            " tombstones: %s\n", name, v->objects, v->nread, v->tombstones,
            ok ? "ok" : "PROBLEMS");
  }
  if (!ok)
    nbdkit_error ("verify: export '%s' has %zu problem%s%s (listed above)",
                  name, v->nproblems + (temps_are_problems ? 1 : 0),
                  v->nproblems + temps_are_problems == 1 ? "" : "s",
                  temps_are_problems ? ", counting its temporary files" : "");
  return ok ? TOOL_OK : TOOL_PROBLEM;
}

static int
run (const struct tool_args *args)
{
  const char *name = args->pos[0];
  struct store_meta meta;
  struct verify v = { .meta = &meta };
  char holder[256];
  bool held, err = false;
  int r;

  pthread_mutex_init (&v.lock, NULL);
  r = tool_open_export (name, true, &v.e, &meta, NULL);
  if (r != TOOL_OK)
    goto out;
  v.npages = (meta.size + meta.page_size - 1) / meta.page_size;
  check_meta (&v, name);
  held = tool_guard_held (v.e, holder, sizeof holder, &err);
  if (err || store_list_objects (v.e, check_object, &v) == -1 ||
      read_pages (&v) == -1)
    r = TOOL_PROBLEM;
  else {
    qsort (v.problems, v.nproblems, sizeof *v.problems, compare_problems);
    r = report (args, name, &v, held);
  }
  store_close_export (v.e);

 out:
  for (size_t i = 0; i < v.nproblems; ++i) {
    free (v.problems[i].object);
    free (v.problems[i].what);
  }
  free (v.problems);
  free (v.to_read);
  tool_names_free (&v.temporary);
  pthread_mutex_destroy (&v.lock);
  return r;
}

const struct tool_cmd tool_cmd_verify = {
  .name = "verify",
  .synopsis = "EXPORT",
  .summary = "Check an export's metadata, pages and checksums.",
  .min_args = 1, .max_args = 1,
  .run = run,
};
