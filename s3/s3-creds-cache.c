/* SPDX-License-Identifier: MIT
 *
 * The credentials cache (s3-credentials.h): the one current set of
 * credentials of a source, shared by every S3 client of the plugin, and
 * its renewal.  Also struct s3_creds_value's references, a value made
 * from a credentials JSON document (credential_process, container,
 * IMDS), and the static source (fixed keys).
 *
 * Invariants:
 * - CURRENT is never NULL after s3_creds_new; a value is immutable, and
 *   a signer holds its own reference, so a renewal never changes the
 *   strings under a request being signed.
 * - At most one fetch runs at a time (REFRESHING).  While it runs, the
 *   others keep signing with CURRENT as long as it has not expired (and
 *   was not refused); otherwise they wait for the fetch to end.
 * - Renewal starts s3_creds_margin before the expiration; a failed
 *   renewal is tried again after RETRY_S, while the current credentials
 *   are still valid, without failing any request.
 * - Debug output (-D nbds3.s3=1) names the source and the expiration,
 *   never a key, a secret or a token.
 */

#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nbdkit-plugin.h>

#include "cleanup.h"
#include "debug.h"
#include "s3-creds-parse.h"
#include "s3-credentials.h"
#include "text.h"

/* Seconds between attempts to renew after a failed one. */
#define RETRY_S 5
/* The most a renewal starts before the expiration. */
#define MARGIN_MAX_S 300

struct s3_creds {
  struct s3_creds_source *src;  /* immutable */
  unsigned refs;                /* atomic */
  pthread_mutex_t lock;         /* guards the fields below */
  pthread_cond_t done;          /* a fetch ended */
  struct s3_creds_value *current;
  bool refreshing;              /* a fetch runs (without the lock) */
  bool refused;                 /* the server refused CURRENT */
  time_t next_try;              /* no renewal before (after a failure) */
};

/* ---- Values ---- */

struct s3_creds_value *
s3_creds_value_new (const char *key_id, const char *secret,
                    const char *token, time_t expiration)
{
  struct s3_creds_value *v = calloc (1, sizeof *v);

  if (v == NULL ||
      (v->access_key = strdup (key_id)) == NULL ||
      (v->secret_key = strdup (secret)) == NULL ||
      (token && (v->session_token = strdup (token)) == NULL)) {
    nbdkit_error ("s3: out of memory");
    if (v) {
      v->refs = 1;
      s3_creds_value_put (v);
    }
    return NULL;
  }
  v->expiration = expiration;
  v->obtained = time (NULL);
  v->refs = 1;
  return v;
}

void
s3_creds_value_put (struct s3_creds_value *v)
{
  if (v == NULL || __atomic_sub_fetch (&v->refs, 1, __ATOMIC_ACQ_REL) > 0)
    return;
  text_secret_free (v->access_key);
  text_secret_free (v->secret_key);
  text_secret_free (v->session_token);
  free (v);
}

static struct s3_creds_value *
value_ref (struct s3_creds_value *v)
{
  __atomic_add_fetch (&v->refs, 1, __ATOMIC_RELAXED);
  return v;
}

/* ---- The static source ---- */

struct static_source {
  struct s3_creds_source src;
  struct s3_creds_value *v;
};

static int
static_fetch (struct s3_creds_source *src, struct s3_creds_value **out)
{
  struct static_source *s = (struct static_source *) src;

  *out = value_ref (s->v);
  return 0;
}

static void
static_free (struct s3_creds_source *src)
{
  struct static_source *s = (struct static_source *) src;

  s3_creds_value_put (s->v);
  free (s->src.name);
  free (s);
}

struct s3_creds_source *
s3_creds_static (const char *name, const char *key_id, const char *secret,
                 const char *token)
{
  struct static_source *s = calloc (1, sizeof *s);

  if (s == NULL || (s->src.name = strdup (name)) == NULL) {
    free (s);
    nbdkit_error ("s3: out of memory");
    return NULL;
  }
  s->src.fetch = static_fetch;
  s->src.free = static_free;
  s->v = s3_creds_value_new (key_id, secret, token, 0);
  if (s->v == NULL) {
    static_free (&s->src);
    return NULL;
  }
  return &s->src;
}

void
s3_creds_source_free (struct s3_creds_source *src)
{
  if (src)
    src->free (src);
}

/* ---- The cache ---- */

time_t
s3_creds_margin (time_t obtained, time_t expiration)
{
  time_t half = expiration > obtained ? (expiration - obtained) / 2 : 0;

  return half < MARGIN_MAX_S ? half : MARGIN_MAX_S;
}

/* "2026-12-01T12:00:00Z" for T, into BUF (32 bytes). */
static const char *
iso_time (time_t t, char *buf)
{
  struct tm tm;

  if (gmtime_r (&t, &tm) == NULL ||
      strftime (buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    strcpy (buf, "?");
  return buf;
}

static void
debug_value (const struct s3_creds *c, const struct s3_creds_value *v,
             const char *what)
{
  char buf[32];

  if (!nbds3_debug_s3)
    return;
  if (v->expiration == 0)
    nbdkit_debug ("s3: credentials %s from %s (they do not expire)",
                  what, c->src->name);
  else
    nbdkit_debug ("s3: credentials %s from %s: they expire at %s (in %lld "
                  "s), renewal from %lld s before", what, c->src->name,
                  iso_time (v->expiration, buf),
                  (long long) (v->expiration - time (NULL)),
                  (long long) s3_creds_margin (v->obtained, v->expiration));
}

struct s3_creds *
s3_creds_new (struct s3_creds_source *src)
{
  struct s3_creds *c = calloc (1, sizeof *c);

  if (c == NULL) {
    nbdkit_error ("s3: out of memory");
    s3_creds_source_free (src);
    return NULL;
  }
  c->src = src;
  c->refs = 1;
  pthread_mutex_init (&c->lock, NULL);
  pthread_cond_init (&c->done, NULL);
  if (src->fetch (src, &c->current) == -1) {
    c->current = NULL;
    s3_creds_unref (c);
    return NULL;
  }
  debug_value (c, c->current, "obtained");
  return c;
}

struct s3_creds *
s3_creds_ref (struct s3_creds *c)
{
  if (c)
    __atomic_add_fetch (&c->refs, 1, __ATOMIC_RELAXED);
  return c;
}

void
s3_creds_unref (struct s3_creds *c)
{
  if (c == NULL || __atomic_sub_fetch (&c->refs, 1, __ATOMIC_ACQ_REL) > 0)
    return;
  s3_creds_value_put (c->current);
  s3_creds_source_free (c->src);
  pthread_mutex_destroy (&c->lock);
  pthread_cond_destroy (&c->done);
  free (c);
}

const char *
s3_creds_name (const struct s3_creds *c)
{
  return c->src->name;
}

bool
s3_creds_renewable (const struct s3_creds *c)
{
  return c->src->renewable;
}

/* Whether V (current, lock held) may still sign at NOW. */
static bool
usable (const struct s3_creds *c, const struct s3_creds_value *v, time_t now)
{
  return !c->refused && (v->expiration == 0 || now < v->expiration);
}

/* Whether V (current, lock held) should be renewed at NOW. */
static bool
due (const struct s3_creds *c, const struct s3_creds_value *v, time_t now)
{
  if (!c->src->renewable || now < c->next_try)
    return false;
  return c->refused ||
    (v->expiration != 0 &&
     now >= v->expiration - s3_creds_margin (v->obtained, v->expiration));
}

/* Fetch new credentials with the lock held on entry and exit, dropping
 * it for the fetch.  0 or -1 (after nbdkit_error).
 */
static int
renew (struct s3_creds *c)
{
  struct s3_creds_value *v = NULL;
  int r;

  c->refreshing = true;
  pthread_mutex_unlock (&c->lock);
  if (nbds3_debug_s3)
    nbdkit_debug ("s3: renewing the credentials from %s", c->src->name);
  r = c->src->fetch (c->src, &v);
  pthread_mutex_lock (&c->lock);
  c->refreshing = false;
  pthread_cond_broadcast (&c->done);
  if (r == -1) {
    c->next_try = time (NULL) + RETRY_S;
    return -1;
  }
  s3_creds_value_put (c->current);
  c->current = v;
  c->refused = false;
  c->next_try = 0;
  debug_value (c, v, "renewed");
  return 0;
}

struct s3_creds_value *
s3_creds_get (struct s3_creds *c)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&c->lock);
  char buf[32];

  while (due (c, c->current, time (NULL))) {
    if (!c->refreshing) {
      renew (c);        /* on failure, the current ones may still do */
      break;
    }
    if (usable (c, c->current, time (NULL)))
      break;
    pthread_cond_wait (&c->done, &c->lock);
  }
  if (!usable (c, c->current, time (NULL))) {
    if (c->refused)
      nbdkit_error ("the S3 server refused the credentials from %s, and "
                    "they could not be renewed (see the error above)",
                    c->src->name);
    else
      nbdkit_error ("the S3 credentials from %s expired at %s and %s",
                    c->src->name, iso_time (c->current->expiration, buf),
                    c->src->renewable
                    ? "could not be renewed (see the error above)"
                    : "cannot be renewed from there: give new ones and "
                    "restart nbdkit");
    return NULL;
  }
  return value_ref (c->current);
}

bool
s3_creds_refused (struct s3_creds *c, const struct s3_creds_value *v)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&c->lock);

  if (!c->src->renewable)
    return false;
  if (c->current == v && !c->refused) {
    if (nbds3_debug_s3)
      nbdkit_debug ("s3: the server refused the credentials from %s: "
                    "renewing them", c->src->name);
    c->refused = true;
    c->next_try = 0;
  }
  return true;
}

struct s3_creds_value *
s3_creds_value_from_json (const char *what, const char *text, size_t len,
                          bool process)
{
  struct s3_creds_doc doc;
  struct s3_creds_value *v = NULL;
  const char *token;
  time_t exp = 0;
  char why[128];

  if (s3_creds_parse_json (text, len, &doc, why, sizeof why) == -1) {
    nbdkit_error ("%s: the answer is not a JSON object of credentials: %s",
                  what, why);
    return NULL;
  }
  token = process ? doc.session_token : doc.token;
  if (process && (!doc.has_version || doc.version != 1))
    nbdkit_error ("%s: the JSON object needs \"Version\": 1", what);
  else if (!process && doc.code && strcmp (doc.code, "Success") != 0)
    nbdkit_error ("%s: the answer's Code is not Success", what);
  else if (doc.access_key_id == NULL || doc.secret_access_key == NULL ||
           *doc.access_key_id == '\0' || *doc.secret_access_key == '\0')
    nbdkit_error ("%s: the answer lacks AccessKeyId or SecretAccessKey",
                  what);
  else if (doc.expiration &&
           s3_creds_parse_time (doc.expiration, &exp) == -1)
    nbdkit_error ("%s: the Expiration is not an ISO 8601 time", what);
  else
    v = s3_creds_value_new (doc.access_key_id, doc.secret_access_key,
                            token && *token ? token : NULL, exp);
  s3_creds_doc_free (&doc);
  return v;
}
