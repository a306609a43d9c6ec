/* SPDX-License-Identifier: MIT
 *
 * The coordination objects of a snapshot, as text, and the copy of one
 * recorded page (store-snap-point.h).
 *
 *   nbds3.snapreq:    "nbds3-snapreq 1\nid=ID\nsnapshot=NAME\n"
 *   nbds3.snappoint:  "nbds3-snappoint 1\nid=ID\nsnapshot=NAME\n"
 *                     "point-ms=MS\nentries=N\n" then N lines
 *                     "%08x page VERSION" or "%08x tombstone -",
 *                     VERSION being "-" when the store has none (FS).
 *
 * A point record answers the request with the same id, and only while
 * that request exists: one without it is stale (its tool gave up or
 * finished) and is ignored.  Entries are kept sorted by page so that
 * copy-before-write finds a page's with a binary search.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <nbdkit-plugin.h>

#include "cleanup.h"
#include "store-snap.h"
#include "store-snap-point.h"
#include "text.h"

#define REQUEST_MAGIC "nbds3-snapreq 1\n"
#define POINT_MAGIC "nbds3-snappoint 1\n"
#define REQUEST_MAX 512
/* A point record line: page, kind, version, separators. */
#define POINT_LINE_MAX (8 + 1 + 9 + 1 + SNAP_VERSION_MAX + 1)
/* A point record is read into one buffer: at most this big (about 2.5
 * million stored pages at S3's ETags; a larger export cannot be
 * snapshotted while a server holds it).
 */
#define SNAP_POINT_MAX (256 << 20)

int
snap_request_new (const char *name, struct snap_request *req)
{
  uint8_t rnd[SNAP_ID_LEN / 2];

  if (getrandom (rnd, sizeof rnd, 0) != (ssize_t) sizeof rnd) {
    nbdkit_error ("cannot draw a random snapshot request id: %m");
    return -1;
  }
  text_hex (rnd, sizeof rnd, req->id);
  snprintf (req->name, sizeof req->name, "%s", name);
  return 0;
}

int
snap_request_put (struct store_export *e, const struct snap_request *req)
{
  char text[REQUEST_MAX];
  int len = snprintf (text, sizeof text, REQUEST_MAGIC "id=%s\nsnapshot=%s\n",
                      req->id, req->name);

  return store_put_object (e, STORE_SNAP_REQUEST, text, len, true);
}

/* Parse the "id=" and "snapshot=" lines that open both objects from
 * *TEXT (NUL-terminated) into REQ, moving *TEXT past them.  false if
 * they are not there.
 */
static bool
parse_header (char **text, const char *magic, struct snap_request *req)
{
  char *p = *text, *id, *name, *end;

  if (strncmp (p, magic, strlen (magic)) != 0)
    return false;
  id = p + strlen (magic);
  if (strncmp (id, "id=", 3) != 0 || strlen (id) < 3 + SNAP_ID_LEN + 1 ||
      id[3 + SNAP_ID_LEN] != '\n')
    return false;
  memcpy (req->id, id + 3, SNAP_ID_LEN);
  req->id[SNAP_ID_LEN] = '\0';
  name = id + 3 + SNAP_ID_LEN + 1;
  if (strncmp (name, "snapshot=", 9) != 0 ||
      (end = strchr (name, '\n')) == NULL)
    return false;
  *end = '\0';
  if (!store_export_name_valid (name + 9))
    return false;
  snprintf (req->name, sizeof req->name, "%s", name + 9);
  *text = end + 1;
  return true;
}

int
snap_request_get (struct store_export *e, struct snap_request *req)
{
  char text[REQUEST_MAX + 1], *p = text;
  size_t len;
  int r = store_get_object (e, STORE_SNAP_REQUEST, text, REQUEST_MAX, &len);

  if (r != 1)
    return r;
  text[len] = '\0';
  if (!parse_header (&p, REQUEST_MAGIC, req)) {
    nbdkit_error ("export '%s': " STORE_SNAP_REQUEST " is malformed: remove "
                  "it if no nbds3 snapshot of the export is running",
                  e->name);
    errno = EIO;
    return -1;
  }
  return 1;
}

/* ---- The point record ---- */

struct record_ctx {
  struct snap_point *pt;
  size_t cap;
};

static int
add_entry (struct record_ctx *ctx, uint32_t page, bool tombstone,
           const char *version)
{
  struct snap_point *pt = ctx->pt;

  if (pt->nentries == ctx->cap) {
    size_t ncap = ctx->cap ? 2 * ctx->cap : 256;
    struct snap_entry *n = realloc (pt->entries, ncap * sizeof *n);

    if (n == NULL) {
      nbdkit_error ("out of memory recording a snapshot point");
      return -1;
    }
    pt->entries = n;
    ctx->cap = ncap;
  }
  pt->entries[pt->nentries] = (struct snap_entry) {
    .page = page, .tombstone = tombstone,
  };
  snprintf (pt->entries[pt->nentries].version, SNAP_VERSION_MAX, "%s",
            version);
  pt->nentries++;
  return 0;
}

static int
record_page (void *opaque, uint32_t page, const char *version)
{
  return add_entry (opaque, page, false, version);
}

static int
record_tombstone (void *opaque, uint32_t page)
{
  return add_entry (opaque, page, true, "");
}

static int
compare_entries (const void *a, const void *b)
{
  const struct snap_entry *x = a, *y = b;

  if (x->page != y->page)
    return x->page < y->page ? -1 : 1;
  return (int) x->tombstone - (int) y->tombstone;
}

int
snap_point_record (struct store_export *e, const struct snap_request *req,
                   bool tombstones, struct snap_point *pt)
{
  struct record_ctx ctx = { pt, 0 };

  memset (pt, 0, sizeof *pt);
  pt->req = *req;
  if (store_list_page_versions (e, record_page, &ctx) == -1 ||
      (tombstones && store_list_tombstones (e, record_tombstone,
                                            &ctx) == -1)) {
    snap_point_free (pt);
    return -1;
  }
  qsort (pt->entries, pt->nentries, sizeof *pt->entries, compare_entries);
  return 0;
}

int
snap_point_put (struct store_export *e, const struct snap_point *pt)
{
  size_t cap = REQUEST_MAX + 64 + pt->nentries * POINT_LINE_MAX, len;
  CLEANUP_FREE char *text = malloc (cap);

  if (text == NULL) {
    nbdkit_error ("out of memory writing a snapshot point");
    return -1;
  }
  len = snprintf (text, cap, POINT_MAGIC "id=%s\nsnapshot=%s\npoint-ms=%"
                  PRId64 "\nentries=%zu\n", pt->req.id, pt->req.name,
                  pt->point_ms, pt->nentries);
  for (size_t i = 0; i < pt->nentries; ++i) {
    const struct snap_entry *ent = &pt->entries[i];

    len += snprintf (text + len, cap - len, "%08" PRIx32 " %s %s\n",
                     ent->page, ent->tombstone ? "tombstone" : "page",
                     ent->version[0] ? ent->version : "-");
  }
  return store_put_object (e, STORE_SNAP_POINT, text, len, false);
}

/* Parse the entry lines of a point record from TEXT into PT.  0 or -1. */
static int
parse_entries (char *text, struct snap_point *pt)
{
  struct record_ctx ctx = { pt, 0 };
  char *save = NULL;
  uint64_t n;

  char *eol;

  /* Two lines, each ended by its newline (sscanf's "\n" would also
   * match the end of the text).
   */
  if (sscanf (text, "point-ms=%" SCNd64 "\nentries=%" SCNu64 "\n",
              &pt->point_ms, &n) != 2 ||
      (eol = strchr (text, '\n')) == NULL ||
      (eol = strchr (eol + 1, '\n')) == NULL)
    return -1;
  text = eol + 1;
  for (char *line = strtok_r (text, "\n", &save); line;
       line = strtok_r (NULL, "\n", &save)) {
    char kind[10], version[SNAP_VERSION_MAX];
    uint32_t page;

    if (sscanf (line, "%8" SCNx32 " %9s %79s", &page, kind, version) != 3 ||
        (strcmp (kind, "page") != 0 && strcmp (kind, "tombstone") != 0) ||
        add_entry (&ctx, page, kind[0] == 't',
                   strcmp (version, "-") == 0 ? "" : version) == -1)
      return -1;
  }
  return pt->nentries == n ? 0 : -1;
}

int
snap_point_get (struct store_export *e, uint64_t pages, struct snap_point *pt)
{
  uint64_t want = REQUEST_MAX + 64 + 2 * (pages + 1) * POINT_LINE_MAX;
  size_t cap = want < SNAP_POINT_MAX ? want : SNAP_POINT_MAX, len;
  CLEANUP_FREE char *text = malloc (cap + 1);
  char *p = text;
  int r;

  memset (pt, 0, sizeof *pt);
  if (text == NULL) {
    nbdkit_error ("out of memory reading a snapshot point");
    return -1;
  }
  r = store_get_object (e, STORE_SNAP_POINT, text, cap, &len);
  if (r != 1)
    return r;
  text[len] = '\0';
  if (!parse_header (&p, POINT_MAGIC, &pt->req) ||
      parse_entries (p, pt) == -1) {
    snap_point_free (pt);
    nbdkit_error ("export '%s': " STORE_SNAP_POINT " is malformed",
                  e->name);
    errno = EIO;
    return -1;
  }
  return 1;
}

void
snap_point_free (struct snap_point *pt)
{
  free (pt->entries);
  pt->entries = NULL;
  pt->nentries = 0;
}

struct snap_entry *
snap_point_find (struct snap_point *pt, uint32_t page)
{
  size_t lo = 0, hi = pt->nentries;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;

    if (pt->entries[mid].page < page)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < pt->nentries && pt->entries[lo].page == page ?
    &pt->entries[lo] : NULL;
}

int
snap_entry_copy (struct store_export *e, struct snap_entry *ent,
                 uint32_t page_size, struct store_export *dst)
{
  char name[STORE_TOMBSTONE_NAME_LEN + 1];

  snprintf (name, sizeof name,
            ent->tombstone ? STORE_TOMBSTONE_NAME_FMT : STORE_PAGE_NAME_FMT,
            ent->page);
  return store_copy_object (e, name, ent->version,
                            ent->tombstone ? 0 : page_size, dst);
}
