/* SPDX-License-Identifier: MIT
 *
 * The single-writer lease of an S3 export (store-s3-lease.h): the object
 * [PREFIX/]exports/<export>/nbds3.lease, a few key=value lines naming its
 * holder.
 *
 * - Taken with a conditional PUT: If-None-Match: * when there is none,
 *   If-Match on its ETag when it is released, ours (this process's writer
 *   token), broken on purpose (break-lease), or seen unchanged for
 *   lease-timeout by this process's monotonic clock (its holder is gone:
 *   a live holder changes the ETag every renewal).  Clocks of different
 *   hosts are never compared.
 * - Renewed every lease-timeout/6 by a thread of its own, on an S3 client
 *   of its own (one connection, timeouts within the renewal interval),
 *   with If-Match on its own ETag; every renewal writes a new count, so
 *   the ETag changes.
 * - Self-fencing: a renewal sent at S makes the lease good for starting
 *   requests until S + lease-timeout - (request-timeout + connect-timeout)
 *   - renewal/2, so every request (an attempt lasts at most
 *   request-timeout) ends before a taker could take the lease.  Past that
 *   time, or once another server wrote the lease (a renewal got 412 and
 *   the object is not ours), s3_lease_check fails: writes fail and the
 *   dirty pages stay in the cache.
 * - Released with a conditional PUT of state=released, never a DELETE
 *   (radosgw 16 ignores conditions on DELETE).
 * - valid_until and lost are read by the data path without a lock
 *   (atomics); everything else is guarded by the store's leases lock.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nbdkit-plugin.h>

#include "cleanup.h"
#include "clock.h"
#include "list.h"
#include "s3-http.h"
#include "store-s3-etags.h"
#include "store-s3-lease.h"
#include "text.h"

#define LEASE_BODY_MAX 1024

/* A release runs at close, also after the shutdown deadline cancelled
 * the data requests (none is in flight then): a few seconds at most.
 */
static const struct s3_http_budget release_budget = {
  .connect_timeout = 2, .request_timeout = 2, .retry_deadline = 2,
  .max_attempts = 1,
};

struct s3_leases {
  struct s3_http *http;         /* the lease client, one connection */
  char *bucket;
  char *writer;                 /* this process's writer token */
  bool *quote_etags;            /* the store's If-Match form (atomic) */
  char holder[300];             /* "HOST pid PID" */
  bool break_lease;
  int64_t timeout_ns;           /* lease-timeout */
  int64_t renew_ns;             /* lease-timeout / 6 */
  int64_t margin_ns;            /* before a lease could run out */
  pthread_mutex_t lock;         /* guards everything below, and the
                                 * leases' non-atomic fields */
  pthread_cond_t wake;          /* monotonic: stop */
  struct list held;             /* struct s3_lease, renewed */
  struct list watches;          /* struct lease_watch */
  pthread_t renewer;
  bool renewer_started, stop;
};

struct s3_lease {
  struct s3_leases *l;
  struct list link;             /* in l->held */
  char *export, *key;
  char etag[S3_HTTP_ETAG_MAX];  /* bare, of our last write */
  uint64_t renewals;
  char taken[32];               /* UTC, when this process took it */
  int64_t valid_until;          /* monotonic ns (atomic) */
  bool lost;                    /* another server wrote it (atomic) */
  bool lapse_logged;            /* the lapse was reported (atomic) */
};

/* Another server's lease that a refused take watches. */
struct lease_watch {
  struct list link;
  char *export;
  char etag[S3_HTTP_ETAG_MAX];
  int64_t since;                /* monotonic ns: first seen */
};

/* What a lease object says. */
struct lease_info {
  int64_t timeout_ns;           /* the holder's lease-timeout; 0: unknown */
  char state[16];               /* "held" or "released" */
  char holder[300];
  char writer[64];
  char taken[32];
};

/* ---- The lease object ---- */

static size_t
format_body (const struct s3_lease *lease, const char *state, char *buf)
{
  const struct s3_leases *l = lease->l;
  int n = snprintf (buf, LEASE_BODY_MAX,
                    "# nbds3 lease: one writer per export; do not edit "
                    "(see nbdkit-nbds3-plugin(1), break-lease)\n"
                    "state=%s\nholder=%s\nwriter=%s\ntaken=%s\n"
                    "renewal=%" PRIu64 "\nlease-timeout=%" PRId64 "\n",
                    state, l->holder, l->writer, lease->taken,
                    lease->renewals, l->timeout_ns / NS_PER_SEC);

  return n < LEASE_BODY_MAX ? (size_t) n : LEASE_BODY_MAX - 1;
}

/* Copy the value of "NAME=" in TEXT (NUL-terminated) into OUT. */
static void
body_value (const char *text, const char *name, char *out, size_t size)
{
  size_t nlen = strlen (name);

  out[0] = '\0';
  for (const char *p = text; p && *p; p = strchr (p, '\n'), p = p ? p + 1 : p)
    if (strncmp (p, name, nlen) == 0 && p[nlen] == '=') {
      const char *v = p + nlen + 1;
      size_t len = strcspn (v, "\n");

      snprintf (out, size, "%.*s", (int) (len < size ? len : size - 1), v);
      return;
    }
}

static void
parse_body (const char *text, struct lease_info *info)
{
  char secs[24];
  uint64_t v;

  body_value (text, "state", info->state, sizeof info->state);
  body_value (text, "holder", info->holder, sizeof info->holder);
  body_value (text, "writer", info->writer, sizeof info->writer);
  body_value (text, "taken", info->taken, sizeof info->taken);
  body_value (text, "lease-timeout", secs, sizeof secs);
  info->timeout_ns = text_parse_u64 (secs, &v) == 0 && v <= 30 * 86400
    ? (int64_t) v * NS_PER_SEC : 0;
  if (info->holder[0] == '\0')
    strcpy (info->holder, "an unknown holder");
}

/* GET the lease object KEY (within BUDGET; NULL: the lease client's).
 * 1 (INFO and its bare ETAG filled in), 0 if there is none, -1 after
 * nbdkit_error.
 */
static int
get_lease (struct s3_leases *l, const char *key, struct lease_info *info,
           char etag[S3_HTTP_ETAG_MAX], const struct s3_http_budget *budget)
{
  char text[LEASE_BODY_MAX + 1];
  struct s3_http_request req = {
    .method = "GET", .key = key, .resp_buf = text,
    .resp_len = LEASE_BODY_MAX, .missing_ok = true, .budget = budget,
  };
  struct s3_http_response resp;

  if (s3_http_request (l->http, &req, &resp) == -1)
    return -1;
  if (resp.status == 404)
    return 0;
  text[resp.body_len] = '\0';
  parse_body (text, info);
  s3_etag_bare (resp.etag, etag);
  return 1;
}

/* PUT BODY of LEN bytes as the lease object KEY, if it has the bare ETag
 * IF_ETAG (or, when IF_ETAG is NULL, if it does not exist); its new bare
 * ETag into NEW_ETAG.  0; -1 with errno EAGAIN (not reported) when the
 * condition does not hold; -1 after nbdkit_error otherwise.  A 412 for
 * an ETag that is the object's own is a quoting mismatch: flipped and
 * sent once more.
 */
static int
put_lease (struct s3_leases *l, const char *key, const char *body,
           size_t len, const char *if_etag, char new_etag[S3_HTTP_ETAG_MAX],
           const struct s3_http_budget *budget)
{
  for (int round = 0; round < 2; ++round) {
    char quoted[S3_HTTP_ETAG_MAX + 2], now[S3_HTTP_ETAG_MAX];
    bool q = __atomic_load_n (l->quote_etags, __ATOMIC_RELAXED);
    struct s3_http_request req = {
      .method = "PUT", .key = key, .body = body, .body_len = len,
      .if_none_match = if_etag == NULL, .budget = budget,
    };
    struct s3_http_response resp;
    struct lease_info info;

    if (if_etag) {
      snprintf (quoted, sizeof quoted, "\"%s\"", if_etag);
      req.if_match = q ? quoted : if_etag;
    }
    if (s3_http_request (l->http, &req, &resp) == 0) {
      free (resp.body);
      s3_etag_bare (resp.etag, new_etag);
      return 0;
    }
    free (resp.body);
    if (errno != EAGAIN || if_etag == NULL || round > 0)
      return -1;
    if (get_lease (l, key, &info, now, budget) != 1 ||
        strcmp (now, if_etag) != 0) {
      errno = EAGAIN;
      return -1;
    }
    __atomic_compare_exchange_n (l->quote_etags, &q, !q, false,
                                 __ATOMIC_RELAXED, __ATOMIC_RELAXED);
  }
  errno = EAGAIN;
  return -1;
}

/* ---- Renewal ---- */

/* Renew LEASE once (l->lock held).  On a 412 the object is read: still
 * ours (a renewal of ours that timed out but landed) is adopted; anyone
 * else's means the lease is lost.
 */
static void
renew (struct s3_lease *lease)
{
  struct s3_leases *l = lease->l;
  char body[LEASE_BODY_MAX], etag[S3_HTTP_ETAG_MAX];
  const int64_t sent = clock_now_ns ();
  struct lease_info info = { .state = "" };
  size_t len;
  int r;

  lease->renewals++;
  len = format_body (lease, "held", body);
  if (put_lease (l, lease->key, body, len, lease->etag, etag, NULL) == 0) {
    strcpy (lease->etag, etag);
    __atomic_store_n (&lease->valid_until,
                      sent + l->timeout_ns - l->margin_ns, __ATOMIC_RELEASE);
    if (__atomic_exchange_n (&lease->lapse_logged, false, __ATOMIC_RELAXED))
      nbdkit_error ("S3 export %s: its lease is renewed again: writing "
                    "again", lease->export);
    return;
  }
  if (errno != EAGAIN)
    return;                     /* reported; tried again next round */
  r = get_lease (l, lease->key, &info, etag, NULL);
  if (r == -1)
    return;                     /* unknown yet: tried again next round */
  if (r == 1 && strcmp (info.writer, l->writer) == 0 &&
      strcmp (info.state, "held") == 0) {
    strcpy (lease->etag, etag);         /* ours, landed late */
    return;
  }
  __atomic_store_n (&lease->lost, true, __ATOMIC_RELEASE);
  nbdkit_error ("S3 export %s: its lease s3://%s/%s was taken by %s: this "
                "server stops writing the export (its dirty pages stay in "
                "memory and its writes fail until nbdkit is restarted)",
                lease->export, l->bucket, lease->key,
                info.holder[0] ? info.holder : "another server");
}

static void *
renewer (void *opaque)
{
  struct s3_leases *l = opaque;
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&l->lock);

  while (!l->stop) {
    int64_t next = clock_now_ns () + l->renew_ns;
    struct list *p;

    while (!l->stop &&
           clock_cond_wait (&l->wake, &l->lock, next) != ETIMEDOUT)
      ;
    if (l->stop)
      break;
    list_for_each (p, &l->held) {
      struct s3_lease *lease = list_entry (p, struct s3_lease, link);

      if (!__atomic_load_n (&lease->lost, __ATOMIC_ACQUIRE))
        renew (lease);
    }
  }
  return NULL;
}

/* Start the renewer once (l->lock held).  0 or -1. */
static int
start_renewer (struct s3_leases *l)
{
  int err;

  if (l->renewer_started)
    return 0;
  err = pthread_create (&l->renewer, NULL, renewer, l);
  if (err) {
    errno = err;
    nbdkit_error ("s3: cannot start the lease renewal thread: %m");
    return -1;
  }
  l->renewer_started = true;
  return 0;
}

/* ---- Taking ---- */

/* The watch of EXPORT's lease (l->lock held), made if need be; NULL if
 * out of memory.
 */
static struct lease_watch *
watch_of (struct s3_leases *l, const char *export)
{
  struct lease_watch *w;
  struct list *p;

  list_for_each (p, &l->watches) {
    w = list_entry (p, struct lease_watch, link);
    if (strcmp (w->export, export) == 0)
      return w;
  }
  w = calloc (1, sizeof *w);
  if (w == NULL || (w->export = strdup (export)) == NULL) {
    free (w);
    return NULL;
  }
  list_add_tail (&l->watches, &w->link);
  return w;
}

/* Refuse to take EXPORT's lease, held by INFO's holder with ETAG: one
 * line saying who holds it and when, by this host's clock, it can be
 * taken over if it stays unchanged.
 */
static int
refuse (struct s3_leases *l, const char *export, const char *key,
        const struct lease_info *info, int64_t left_ns)
{
  time_t at = time (NULL) + (left_ns + NS_PER_SEC - 1) / NS_PER_SEC;
  char when[32];
  struct tm tm;

  strftime (when, sizeof when, "%H:%M:%S", localtime_r (&at, &tm));
  nbdkit_error ("S3 export %s is held by %s (lease s3://%s/%s, taken %s): "
                "only one server may write an export.  If that server is "
                "gone, this one takes the export over from %s (this host's "
                "clock), once the lease has stayed unchanged for "
                "lease-timeout; to take it now, restart with "
                "break-lease=true, or serve it read-only (nbdkit -r)",
                export, info->holder, l->bucket, key,
                info->taken[0] ? info->taken : "at an unknown time", when);
  errno = EBUSY;
  return -1;
}

/* Whether the lease of EXPORT, as INFO with ETAG says, may be taken
 * now (l->lock held); *LEFT_NS how long until it may, when not.
 */
static bool
may_take (struct s3_leases *l, const char *export,
          const struct lease_info *info, const char *etag, int64_t *left_ns)
{
  const int64_t now = clock_now_ns ();
  /* Wait as long as the holder's lease-timeout, if it is longer: it
   * stops writing by its own, not ours.  Unknown: ours, or a day.
   */
  const int64_t wait_ns = info->timeout_ns > l->timeout_ns
    ? info->timeout_ns : l->timeout_ns;
  struct lease_watch *w;

  *left_ns = 0;
  if (strcmp (info->state, "released") == 0 ||
      strcmp (info->writer, l->writer) == 0)
    return true;
  if (l->break_lease) {
    nbdkit_error ("S3 export %s: breaking the lease of %s (break-lease=true): "
                  "if that server still runs, both now write the export",
                  export, info->holder);
    return true;
  }
  w = watch_of (l, export);
  if (w == NULL) {
    *left_ns = wait_ns;
    return false;
  }
  if (strcmp (w->etag, etag) != 0) {
    strcpy (w->etag, etag);
    w->since = now;
  }
  if (now - w->since >= wait_ns) {
    nbdkit_debug ("s3: export %s: the lease of %s stayed unchanged for "
                  "%" PRId64 " s: taking it over", export, info->holder,
                  (now - w->since) / NS_PER_SEC);
    return true;
  }
  *left_ns = w->since + wait_ns - now;
  return false;
}

int
s3_lease_take (struct s3_leases *l, const char *export, const char *key,
               struct s3_lease **out)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&l->lock);
  struct s3_lease *lease = calloc (1, sizeof *lease);
  char body[LEASE_BODY_MAX], etag[S3_HTTP_ETAG_MAX];
  time_t now = time (NULL);
  struct tm tm;

  if (lease == NULL || (lease->export = strdup (export)) == NULL ||
      (lease->key = strdup (key)) == NULL) {
    nbdkit_error ("s3: out of memory");
    goto err;
  }
  lease->l = l;
  strftime (lease->taken, sizeof lease->taken, "%Y-%m-%dT%H:%M:%SZ",
            gmtime_r (&now, &tm));
  if (start_renewer (l) == -1)
    goto err;

  for (int round = 0; round < 3; ++round) {
    const int64_t sent = clock_now_ns ();
    struct lease_info info = { .state = "" };
    int64_t left_ns;
    size_t len = format_body (lease, "held", body);
    int r = get_lease (l, key, &info, etag, NULL);

    if (r == -1)
      goto err;
    if (r == 1 && !may_take (l, export, &info, etag, &left_ns)) {
      refuse (l, export, key, &info, left_ns);
      goto err;
    }
    if (put_lease (l, key, body, len, r == 1 ? etag : NULL, etag,
                   NULL) == 0) {
      strcpy (lease->etag, etag);
      lease->valid_until = sent + l->timeout_ns - l->margin_ns;
      list_add_tail (&l->held, &lease->link);
      nbdkit_debug ("s3: export %s: lease taken (s3://%s/%s)", export,
                    l->bucket, key);
      *out = lease;
      return 0;
    }
    if (errno != EAGAIN)
      goto err;
    /* Another server wrote the lease meanwhile: look again. */
  }
  nbdkit_error ("S3 export %s: its lease s3://%s/%s changes under this "
                "server's hands: is another server taking it?", export,
                l->bucket, key);
  errno = EBUSY;

 err:
  if (lease) {
    free (lease->export);
    free (lease->key);
    free (lease);
  }
  return -1;
}

/* The release's condition failed: did a renewal that was aborted (at
 * the shutdown deadline, or by its timeout) land after all?  Then the
 * lease object is still this process's, with another ETag: true and
 * that bare ETAG.  (errno EAGAIN kept for the caller otherwise.)
 */
static bool
renewal_landed (struct s3_lease *lease, char etag[S3_HTTP_ETAG_MAX])
{
  struct s3_leases *l = lease->l;
  struct lease_info info;
  bool ours;

  ours = get_lease (l, lease->key, &info, etag, &release_budget) == 1 &&
    strcmp (info.writer, l->writer) == 0 && strcmp (info.state, "held") == 0;
  errno = EAGAIN;
  return ours;
}

void
s3_lease_release (struct s3_lease *lease, bool keep)
{
  struct s3_leases *l = lease->l;
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&l->lock);
  char body[LEASE_BODY_MAX], etag[S3_HTTP_ETAG_MAX];
  size_t len;

  list_del (&lease->link);
  if (keep && !__atomic_load_n (&lease->lost, __ATOMIC_ACQUIRE))
    nbdkit_error ("S3 export %s: its lease s3://%s/%s is not released: "
                  "requests aborted at the shutdown deadline may still reach "
                  "S3, so another server takes the export over only after "
                  "lease-timeout", lease->export, l->bucket, lease->key);
  else if (!__atomic_load_n (&lease->lost, __ATOMIC_ACQUIRE)) {
    len = format_body (lease, "released", body);
    if (put_lease (l, lease->key, body, len, lease->etag, etag,
                   &release_budget) == 0 ||
        (errno == EAGAIN && renewal_landed (lease, etag) &&
         put_lease (l, lease->key, body, len, etag, etag,
                    &release_budget) == 0))
      nbdkit_debug ("s3: export %s: lease released", lease->export);
    else if (errno == EAGAIN)
      nbdkit_error ("S3 export %s: releasing its lease s3://%s/%s was "
                    "refused: another server took it", lease->export,
                    l->bucket, lease->key);
  }
  free (lease->export);
  free (lease->key);
  free (lease);
}

int
s3_lease_check (struct s3_lease *lease, int64_t *not_after)
{
  int64_t until = __atomic_load_n (&lease->valid_until, __ATOMIC_ACQUIRE);

  if (__atomic_load_n (&lease->lost, __ATOMIC_ACQUIRE)) {
    nbdkit_error ("S3 export %s: another server took its lease: not "
                  "writing (restart nbdkit to write it again)",
                  lease->export);
    errno = EIO;
    return -1;
  }
  if (clock_now_ns () >= until) {
    if (!__atomic_exchange_n (&lease->lapse_logged, true, __ATOMIC_RELAXED))
      nbdkit_error ("S3 export %s: its lease could not be renewed in time "
                    "(is S3 reachable?): not writing until it is, so that "
                    "no write can land after another server could take it "
                    "over", lease->export);
    errno = EIO;
    return -1;
  }
  *not_after = until;
  return 0;
}

/* ---- For the nbds3 tool ---- */

int
s3_lease_describe (struct s3_leases *l, const char *key, char *buf,
                   size_t len)
{
  struct lease_info info = { .state = "" };
  char etag[S3_HTTP_ETAG_MAX];
  int r = get_lease (l, key, &info, etag, NULL);

  if (r <= 0 || strcmp (info.state, "released") == 0)
    return r == -1 ? -1 : 0;
  snprintf (buf, len, "%s since %s", info.holder,
            info.taken[0] ? info.taken : "?");
  return 1;
}

int
s3_lease_drop (struct s3_lease *lease)
{
  struct s3_leases *l = lease->l;
  struct s3_http_request req = {
    .method = "DELETE", .key = lease->key, .missing_ok = true,
  };
  struct s3_http_response resp;
  int r;

  /* Under the lock, so that no renewal is in flight or starts. */
  pthread_mutex_lock (&l->lock);
  r = s3_http_request (l->http, &req, &resp);
  free (resp.body);
  if (r == 0)
    list_del (&lease->link);
  pthread_mutex_unlock (&l->lock);
  if (r == -1)
    return -1;
  nbdkit_debug ("s3: export %s: lease object deleted", lease->export);
  free (lease->export);
  free (lease->key);
  free (lease);
  return 0;
}

/* ---- The store's leases ---- */

struct s3_leases *
s3_leases_new (const struct s3_config *cfg, const char *writer,
               bool *quote_etags)
{
  struct s3_leases *l = calloc (1, sizeof *l);
  struct s3_config lc = *cfg;   /* shallow: s3_http_new copies it */
  unsigned renew_s = cfg->lease_timeout / 6;
  char host[256] = "";

  if (l == NULL) {
    nbdkit_error ("s3: out of memory");
    return NULL;
  }
  pthread_mutex_init (&l->lock, NULL);
  clock_cond_init (&l->wake);
  list_init (&l->held);
  list_init (&l->watches);
  l->quote_etags = quote_etags;
  l->break_lease = cfg->break_lease;
  l->timeout_ns = cfg->lease_timeout * NS_PER_SEC;
  l->renew_ns = l->timeout_ns / 6;
  l->margin_ns = (cfg->request_timeout + cfg->connect_timeout) * NS_PER_SEC
    + l->renew_ns / 2;
  gethostname (host, sizeof host - 1);
  snprintf (l->holder, sizeof l->holder, "%s pid %ld",
            host[0] ? host : "?", (long) getpid ());
  /* Renewals must not outlast their interval. */
  lc.connections = 1;
  lc.request_timeout = renew_s / 2 ? renew_s / 2 : 1;
  lc.connect_timeout = lc.request_timeout < cfg->connect_timeout
    ? lc.request_timeout : cfg->connect_timeout;
  lc.retry_deadline = renew_s ? renew_s : 1;
  l->bucket = strdup (cfg->bucket);
  l->writer = strdup (writer);
  if (l->bucket == NULL || l->writer == NULL) {
    nbdkit_error ("s3: out of memory");
    s3_leases_free (l);
    return NULL;
  }
  l->http = s3_http_new (&lc);
  if (l->http == NULL) {
    s3_leases_free (l);
    return NULL;
  }
  return l;
}

/* Stop the renewer and wait for it: with CANCEL, abort its request. */
static void
stop_renewer (struct s3_leases *l, bool cancel)
{
  bool started;

  if (cancel)                   /* first: the renewer holds the lock */
    s3_http_cancel (l->http);   /* while it renews */
  pthread_mutex_lock (&l->lock);
  l->stop = true;
  pthread_cond_broadcast (&l->wake);
  started = l->renewer_started;
  l->renewer_started = false;
  pthread_mutex_unlock (&l->lock);
  if (started)
    pthread_join (l->renewer, NULL);
  if (cancel)
    s3_http_resume (l->http);
}

void
s3_leases_halt (struct s3_leases *l)
{
  stop_renewer (l, true);
}

void
s3_leases_free (struct s3_leases *l)
{
  if (l == NULL)
    return;
  stop_renewer (l, false);
  while (!list_empty (&l->watches)) {
    struct lease_watch *w = list_entry (l->watches.next, struct lease_watch,
                                        link);
    list_del (&w->link);
    free (w->export);
    free (w);
  }
  s3_http_free (l->http);
  pthread_mutex_destroy (&l->lock);
  pthread_cond_destroy (&l->wake);
  free (l->bucket);
  free (l->writer);
  free (l);
}
