/* SPDX-License-Identifier: MIT
 *
 * The S3 store's named objects (store.h): object NAME of an export is the
 * key ROOT/EXPORT/NAME beside its pages, listed, PUT (with If-None-Match: *
 * for an exclusive create, a 412 then EEXIST), fetched and DELETEd as it
 * is, outside the 412 rule and the lease.  Also the tool's methods:
 * guard_holder (who holds the export's lease), replace_meta,
 * remove_objects (DeleteObjects in batches, or one DELETE a key where the
 * server has no DeleteObjects), remove_export and check_guard; each of
 * their mutations runs under the export's lease (s3_store_may_mutate,
 * store-s3.c).
 */

#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-plugin.h>

#include "cleanup.h"
#include "s3-delete.h"
#include "s3-http.h"
#include "store-s3-etags.h"
#include "store-s3-impl.h"
#include "store-s3-lease.h"

/* ---- Named objects ---- */

struct objects_ctx {
  size_t skip;                  /* strlen of the export's prefix */
  int (*fn) (void *opaque, const char *name, uint64_t size);
  void *opaque;
};

static int
named_object (void *opaque, const struct s3_list_object *obj)
{
  struct objects_ctx *ctx = opaque;

  if (strlen (obj->key) <= ctx->skip)
    return 0;
  return ctx->fn (ctx->opaque, obj->key + ctx->skip, obj->size);
}

int
s3_list_objects (struct store_export *se,
                 int (*fn) (void *opaque, const char *name, uint64_t size),
                 void *opaque)
{
  struct s3_export *e = (struct s3_export *) se;
  struct objects_ctx ctx = { strlen (e->prefix), fn, opaque };

  return s3_store_list_objects ((struct s3_store *) e->base.store,
                                e->prefix, NULL, named_object, NULL, &ctx);
}

int
s3_put_object (struct store_export *se, const char *name, const void *buf,
               size_t len, bool exclusive)
{
  struct s3_export *e = (struct s3_export *) se;
  CLEANUP_FREE char *key = s3_store_export_key (e, name);

  if (key == NULL)
    return -1;
  if (s3_store_put_object ((struct s3_store *) e->base.store, key, buf, len,
                           exclusive, 0) == 0)
    return 0;
  if (errno == EAGAIN)
    errno = EEXIST;
  return -1;
}

int
s3_get_object (struct store_export *se, const char *name, void *buf,
               size_t cap, size_t *len)
{
  struct s3_export *e = (struct s3_export *) se;
  CLEANUP_FREE char *key = s3_store_export_key (e, name);

  if (key == NULL)
    return -1;
  return s3_store_get_object ((struct s3_store *) e->base.store, key, buf,
                              cap, len, NULL, NULL);
}

int
s3_remove_object (struct store_export *se, const char *name)
{
  struct s3_export *e = (struct s3_export *) se;
  CLEANUP_FREE char *key = s3_store_export_key (e, name);
  struct s3_http_request req = { .method = "DELETE", .missing_ok = true };
  struct s3_http_response resp;
  int r;

  if (key == NULL)
    return -1;
  req.key = key;
  r = s3_http_request (((struct s3_store *) e->base.store)->http, &req,
                       &resp);
  free (resp.body);
  return r;
}

/* ---- The tool's methods ---- */

int
s3_guard_holder (struct store_export *se, char *buf, size_t len)
{
  struct s3_export *e = (struct s3_export *) se;
  CLEANUP_FREE char *key = s3_store_export_key (e, S3_LEASE_NAME);

  if (key == NULL)
    return -1;
  return s3_lease_describe (((struct s3_store *) e->base.store)->leases, key,
                            buf, len);
}

int
s3_replace_meta (struct store_export *se, const struct store_meta *meta)
{
  struct s3_export *e = (struct s3_export *) se;
  struct s3_store *s = (struct s3_store *) e->base.store;
  CLEANUP_FREE char *key = s3_store_export_key (e, STORE_META_NAME);
  char text[STORE_META_MAX];
  size_t len = store_meta_format (meta, text);
  struct store_meta now;
  int64_t not_after;

  if (key == NULL || s3_store_may_mutate (e, &not_after) == -1)
    return -1;
  switch (s3_read_meta (se, &now)) {
  case -1:
    return -1;
  case 0:
    nbdkit_error ("S3 export %s has no metadata to replace (s3://%s/%s)",
                  e->name, s->bucket, key);
    errno = ENOENT;
    return -1;
  }
  /* Unconditional: the lease keeps every server from writing meanwhile. */
  return s3_store_put_object (s, key, text, len, false, not_after);
}

/* DELETE KEY, under E's lease.  0 or -1 after nbdkit_error. */
static int
delete_key (struct s3_export *e, const char *key)
{
  struct s3_http_request req = {
    .method = "DELETE", .key = key, .missing_ok = true,
  };
  struct s3_http_response resp;
  int r;

  if (s3_store_may_mutate (e, &req.not_after) == -1)
    return -1;
  r = s3_http_request (((struct s3_store *) e->base.store)->http, &req,
                       &resp);
  free (resp.body);
  return r;
}

/* Delete the N keys KEYS of E: one DeleteObjects, or one DELETE each
 * when the server has no DeleteObjects.  0 or -1.
 */
static int
delete_batch (struct s3_export *e, const char *const *keys, size_t n)
{
  struct s3_store *s = (struct s3_store *) e->base.store;
  int64_t not_after;
  bool unsupported;

  if (!__atomic_load_n (&s->no_delete_objects, __ATOMIC_RELAXED)) {
    if (s3_store_may_mutate (e, &not_after) == -1)
      return -1;
    if (s3_delete_objects (s->http, keys, n, not_after, &unsupported) == 0)
      return 0;
    if (!unsupported)
      return -1;
    __atomic_store_n (&s->no_delete_objects, true, __ATOMIC_RELAXED);
  }
  for (size_t i = 0; i < n; ++i)
    if (delete_key (e, keys[i]) == -1)
      return -1;
  return 0;
}

int
s3_remove_objects (struct store_export *se, const char *const *names,
                   size_t n)
{
  struct s3_export *e = (struct s3_export *) se;
  const size_t batch = n < S3_DELETE_MAX_KEYS ? n : S3_DELETE_MAX_KEYS;
  char **keys = calloc (batch ? batch : 1, sizeof *keys);
  int r = 0;

  if (keys == NULL) {
    nbdkit_error ("s3: out of memory");
    return -1;
  }
  for (size_t done = 0; r == 0 && done < n; done += batch) {
    size_t m = n - done < batch ? n - done : batch;

    for (size_t i = 0; r == 0 && i < m; ++i) {
      uint32_t page;

      if ((keys[i] = s3_store_export_key (e, names[done + i])) == NULL)
        r = -1;
      else if (store_page_name_parse (names[done + i], &page))
        s3_etags_remove (&e->etags, page);
    }
    if (r == 0)
      r = delete_batch (e, (const char *const *) keys, m);
    for (size_t i = 0; i < m; ++i) {
      free (keys[i]);
      keys[i] = NULL;
    }
  }
  free (keys);
  return r;
}

int
s3_remove_export (struct store_export *se)
{
  struct s3_export *e = (struct s3_export *) se;
  CLEANUP_FREE char *key = s3_store_export_key (e, STORE_META_NAME);

  if (key == NULL || delete_key (e, key) == -1 ||
      s3_lease_drop (e->lease) == -1)
    return -1;
  e->lease = NULL;              /* deleted: nothing to release */
  return 0;
}

int
s3_check_guard (struct store_export *se)
{
  int64_t not_after;

  return s3_store_may_mutate ((struct s3_export *) se, &not_after);
}
