/* SPDX-License-Identifier: MIT
 *
 * The credential chain (s3-credentials.h): which source gives the S3
 * store its credentials, decided once in .config_complete, in botocore's
 * order, each source tried only where it applies:
 *
 *   1. access-key= and secret-key= (and session-token=);
 *   2. AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (AWS_SESSION_TOKEN);
 *   3. the profile's role_arn, with source_profile or credential_source
 *      (or web_identity_token_file): STS AssumeRole;
 *   4. AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN: STS
 *      AssumeRoleWithWebIdentity;
 *   5. the profile's aws_access_key_id and aws_secret_access_key (the
 *      credentials file, then the config file: aws-profile.c);
 *   6. the profile's credential_process;
 *   7. container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or
 *      _FULL_URI);
 *   8. EC2 instance metadata (IMDSv2), unless AWS_EC2_METADATA_DISABLED.
 *
 * The chosen source goes into a cache (s3-creds-cache.c) that fetches the
 * first credentials now, so a bad source fails at start-up, and renews
 * temporary ones later.  Nothing here prints a secret.
 */

#include <config.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <nbdkit-plugin.h>

#include "aws-profile.h"
#include "cleanup.h"
#include "debug.h"
#include "s3-creds.h"
#include "s3-credentials.h"
#include "s3-settings.h"
#include "text.h"

#define DEFAULT_DURATION_S 3600
#define ROLE_CHAIN_MAX 4
#define IMDS_ENDPOINT "http://169.254.169.254"
#define ECS_HOST "http://169.254.170.2"

/* What the chain looks at. */
struct chain {
  struct s3_config *c;
  const struct aws_profile *p;
};

/* The environment variable NAME if set and not empty, else NULL. */
static const char *
env (const char *name)
{
  const char *v = getenv (name);

  return v && *v ? v : NULL;
}

/* 1. The config keys.  1 with *SRC, 0 when not given, -1 on error. */
static int
from_keys (struct chain *ch, struct s3_creds_source **src)
{
  struct s3_config *c = ch->c;

  if (c->access_key && c->secret_key) {
    *src = s3_creds_static ("access-key= and secret-key=", c->access_key,
                            c->secret_key, c->session_token);
    return *src ? 1 : -1;
  }
  if (c->access_key || c->secret_key) {
    nbdkit_error ("%s= was given without %s=: give both S3 keys "
                  "(or neither, to take them from the environment or "
                  "~/.aws/credentials)",
                  c->access_key ? "access-key" : "secret-key",
                  c->access_key ? "secret-key" : "access-key");
    return -1;
  }
  if (c->session_token) {
    nbdkit_error ("session-token= needs access-key= and secret-key= too");
    return -1;
  }
  return 0;
}

/* 2. The environment's keys. */
static int
from_env (struct chain *ch, struct s3_creds_source **src)
{
  const char *id = env ("AWS_ACCESS_KEY_ID");
  const char *secret = env ("AWS_SECRET_ACCESS_KEY");

  (void) ch;
  if (id && secret) {
    *src = s3_creds_static ("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                            id, secret, env ("AWS_SESSION_TOKEN"));
    return *src ? 1 : -1;
  }
  if (id || secret)
    nbdkit_debug ("s3: %s is set without %s: ignored",
                  id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                  id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
  return 0;
}

/* The STS endpoint: AWS_ENDPOINT_URL_STS, the profile's sts.endpoint_url,
 * the S3 endpoint when it is not AWS (radosgw and others serve STS
 * there), else AWS's regional STS.  NULL when out of memory.
 */
static char *
sts_endpoint (const struct chain *ch)
{
  const char *v = env ("AWS_ENDPOINT_URL_STS");
  char *url;

  if (v == NULL)
    v = aws_profile_get (ch->p, "sts.endpoint_url");
  if (v == NULL && !s3_settings_endpoint_is_aws (ch->c->endpoint))
    v = ch->c->endpoint;
  if (v)
    return strdup (v);
  if (asprintf (&url, "https://sts.%s.amazonaws.com",
                ch->c->region ? ch->c->region : "us-east-1") == -1)
    return NULL;
  return url;
}

/* The STS parameters shared by both kinds, from profile P (or NULL) and
 * the environment, into S (strings pointing into P or allocated: ENDPOINT
 * and SESSION_NAME are allocated, the caller frees them).  0 or -1.
 */
static int
sts_params (const struct chain *ch, const struct aws_profile *p,
            struct s3_creds_sts *s)
{
  const char *d = p ? aws_profile_get (p, "duration_seconds") : NULL;
  const char *name = p ? aws_profile_get (p, "role_session_name") : NULL;
  uint64_t duration = DEFAULT_DURATION_S;

  if (name == NULL)
    name = env ("AWS_ROLE_SESSION_NAME");
  if (d && (text_parse_u64 (d, &duration) == -1 || duration < 900 ||
            duration > 43200)) {
    nbdkit_error ("profile [%s]: duration_seconds = %s: give 900 to 43200",
                  aws_profile_name (p), d);
    return -1;
  }
  *s = (struct s3_creds_sts) {
    .region = ch->c->region ? ch->c->region : (char *) "us-east-1",
    .external_id = p ? (char *) aws_profile_get (p, "external_id") : NULL,
    .duration = duration, .tls_verify = ch->c->tls_verify,
    .ca_file = ch->c->ca_file,
  };
  s->endpoint = sts_endpoint (ch);
  if (name)
    s->session_name = strdup (name);
  else if (asprintf (&s->session_name, "nbds3-%lld",
                     (long long) time (NULL)) == -1)
    s->session_name = NULL;
  if (s->endpoint == NULL || s->session_name == NULL) {
    free (s->endpoint);
    free (s->session_name);
    nbdkit_error ("s3: out of memory");
    return -1;
  }
  return 0;
}

/* An STS source named NAME over BASE (taken; NULL: web identity from
 * TOKEN_FILE) for ROLE_ARN, parameters from profile P (or NULL).
 */
static struct s3_creds_source *
sts_source (const struct chain *ch, const struct aws_profile *p,
            const char *name, struct s3_creds *base, const char *role_arn,
            const char *token_file)
{
  struct s3_creds_source *src;
  struct s3_creds_sts s;

  if (sts_params (ch, p, &s) == -1) {
    s3_creds_unref (base);
    return NULL;
  }
  s.role_arn = (char *) role_arn;
  s.token_file = (char *) token_file;
  src = s3_creds_sts_new (name, base, &s);
  if (src && nbds3_debug_s3)
    nbdkit_debug ("s3: %s: STS at %s, session %s, %u s", name, s.endpoint,
                  s.session_name, s.duration);
  free (s.endpoint);
  free (s.session_name);
  return src;
}

static struct s3_creds_source *container_source (void);
static struct s3_creds_source *imds_source (const struct chain *ch);
static struct s3_creds_source *profile_base (const struct chain *ch,
                                             const struct aws_profile *p,
                                             unsigned depth);

/* The source credentials of role profile P: its credential_source or its
 * source_profile.  NULL after nbdkit_error.
 */
static struct s3_creds_source *
role_base (const struct chain *ch, const struct aws_profile *p,
           unsigned depth)
{
  const char *cs = aws_profile_get (p, "credential_source");
  const char *sp = aws_profile_get (p, "source_profile");
  struct aws_profile *q;
  struct s3_creds_source *src;
  const char *id, *secret;

  if (cs && strcasecmp (cs, "Environment") == 0) {
    id = env ("AWS_ACCESS_KEY_ID");
    secret = env ("AWS_SECRET_ACCESS_KEY");
    if (id && secret)
      return s3_creds_static ("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                              id, secret, env ("AWS_SESSION_TOKEN"));
    nbdkit_error ("profile [%s]: credential_source = Environment, but "
                  "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not "
                  "set", aws_profile_name (p));
    return NULL;
  }
  if (cs && strcasecmp (cs, "Ec2InstanceMetadata") == 0)
    return imds_source (ch);
  if (cs && strcasecmp (cs, "EcsContainer") == 0) {
    src = container_source ();
    if (src == NULL)
      nbdkit_error ("profile [%s]: credential_source = EcsContainer, but "
                    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI "
                    "are not set", aws_profile_name (p));
    return src;
  }
  if (cs) {
    nbdkit_error ("profile [%s]: credential_source = %s: give Environment, "
                  "Ec2InstanceMetadata or EcsContainer",
                  aws_profile_name (p), cs);
    return NULL;
  }
  if (sp == NULL) {
    nbdkit_error ("profile [%s]: role_arn needs source_profile or "
                  "credential_source", aws_profile_name (p));
    return NULL;
  }
  if (strcmp (sp, aws_profile_name (p)) == 0)
    return profile_base (ch, p, ROLE_CHAIN_MAX + 1);  /* its own keys */
  if ((q = aws_profile_load (sp)) == NULL)
    return NULL;
  src = profile_base (ch, q, depth + 1);
  aws_profile_free (q);
  return src;
}

/* The credentials of profile P for use as a source profile: its role
 * (unless DEPTH is exhausted), its keys, or its credential_process.
 */
static struct s3_creds_source *
profile_base (const struct chain *ch, const struct aws_profile *p,
              unsigned depth)
{
  const char *role = aws_profile_get (p, "role_arn");
  const char *id = aws_profile_get (p, "aws_access_key_id");
  const char *secret = aws_profile_get (p, "aws_secret_access_key");
  const char *process = aws_profile_get (p, "credential_process");
  CLEANUP_FREE char *name = NULL;
  struct s3_creds_source *base;
  struct s3_creds *cache;

  if (depth > ROLE_CHAIN_MAX && role && !(id && secret)) {
    nbdkit_error ("profile [%s]: more than %d role profiles in a chain of "
                  "source_profile (a loop?)", aws_profile_name (p),
                  ROLE_CHAIN_MAX);
    return NULL;
  }
  if (role && depth <= ROLE_CHAIN_MAX) {
    if (asprintf (&name, "role_arn of profile [%s]", aws_profile_name (p))
        == -1 || (base = role_base (ch, p, depth)) == NULL ||
        (cache = s3_creds_new (base)) == NULL)
      return NULL;
    return sts_source (ch, p, name, cache, role, NULL);
  }
  if (asprintf (&name, "%s of profile [%s]", id && secret ? "the keys"
                : "credential_process", aws_profile_name (p)) == -1)
    return NULL;
  if (id && secret)
    return s3_creds_static (name, id, secret,
                            aws_profile_get (p, "aws_session_token"));
  if (process)
    return s3_creds_process_new (name, process);
  nbdkit_error ("profile [%s], a source_profile, has no aws_access_key_id "
                "and aws_secret_access_key, no credential_process and no "
                "role_arn", aws_profile_name (p));
  return NULL;
}

/* 3. The profile's role_arn. */
static int
from_role (struct chain *ch, struct s3_creds_source **src)
{
  const char *role = aws_profile_get (ch->p, "role_arn");
  const char *file = aws_profile_get (ch->p, "web_identity_token_file");
  CLEANUP_FREE char *name = NULL;

  if (role == NULL)
    return 0;
  if (file) {
    if (asprintf (&name, "web_identity_token_file of profile [%s]",
                  aws_profile_name (ch->p)) == -1)
      return -1;
    *src = sts_source (ch, ch->p, name, NULL, role, file);
  }
  else
    *src = profile_base (ch, ch->p, 0);
  return *src ? 1 : -1;
}

/* 4. Web identity from the environment. */
static int
from_web_identity (struct chain *ch, struct s3_creds_source **src)
{
  const char *file = env ("AWS_WEB_IDENTITY_TOKEN_FILE");
  const char *role = env ("AWS_ROLE_ARN");

  if (file == NULL || role == NULL) {
    if (file || role)
      nbdkit_debug ("s3: %s is set without %s: no web identity",
                    file ? "AWS_WEB_IDENTITY_TOKEN_FILE" : "AWS_ROLE_ARN",
                    file ? "AWS_ROLE_ARN" : "AWS_WEB_IDENTITY_TOKEN_FILE");
    return 0;
  }
  *src = sts_source (ch, NULL, "web identity (AWS_WEB_IDENTITY_TOKEN_FILE)",
                     NULL, role, file);
  return *src ? 1 : -1;
}

/* 5. The profile's keys. */
static int
from_profile_keys (struct chain *ch, struct s3_creds_source **src)
{
  const char *id = aws_profile_get (ch->p, "aws_access_key_id");
  const char *secret = aws_profile_get (ch->p, "aws_secret_access_key");
  CLEANUP_FREE char *name = NULL;

  if (id == NULL || secret == NULL || !*id || !*secret) {
    if ((id && *id) || (secret && *secret))
      nbdkit_debug ("s3: profile [%s] lacks aws_access_key_id or "
                    "aws_secret_access_key", aws_profile_name (ch->p));
    return 0;
  }
  if (asprintf (&name, "the keys of profile [%s]",
                aws_profile_name (ch->p)) == -1)
    return -1;
  *src = s3_creds_static (name, id, secret,
                          aws_profile_get (ch->p, "aws_session_token"));
  return *src ? 1 : -1;
}

/* 6. The profile's credential_process. */
static int
from_process (struct chain *ch, struct s3_creds_source **src)
{
  const char *command = aws_profile_get (ch->p, "credential_process");
  CLEANUP_FREE char *name = NULL;

  if (command == NULL)
    return 0;
  if (asprintf (&name, "credential_process of profile [%s]",
                aws_profile_name (ch->p)) == -1)
    return -1;
  *src = s3_creds_process_new (name, command);
  return *src ? 1 : -1;
}

/* Whether URL is https, or http on a loopback or container address. */
static bool
allowed_full_uri (const char *url)
{
  static const char *const hosts[] = {
    "127.", "localhost", "[::1]", "169.254.170.2", "169.254.170.23",
    "[fd00:ec2::23]",
  };
  const char *h;

  if (strncasecmp (url, "https://", 8) == 0)
    return true;
  if (strncasecmp (url, "http://", 7) != 0)
    return false;
  h = url + 7;
  for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; ++i) {
    size_t n = strlen (hosts[i]);
    char end;

    if (strncasecmp (h, hosts[i], n) != 0)
      continue;
    end = h[n];
    if (hosts[i][n - 1] == '.')   /* 127.x.y.z */
      end = h[n + strspn (h + n, "0123456789.")];
    if (end == '\0' || end == ':' || end == '/')
      return true;
  }
  return false;
}

/* The container source from the environment, or NULL (with no error)
 * when neither URI is set, or NULL after nbdkit_error (a bad one).
 */
static struct s3_creds_source *
container_source (void)
{
  const char *rel = env ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
  const char *full = env ("AWS_CONTAINER_CREDENTIALS_FULL_URI");
  CLEANUP_FREE char *url = NULL;

  if (rel) {
    if (asprintf (&url, ECS_HOST "%s%s", rel[0] == '/' ? "" : "/", rel)
        == -1)
      return NULL;
  }
  else if (full) {
    if (!allowed_full_uri (full)) {
      nbdkit_error ("AWS_CONTAINER_CREDENTIALS_FULL_URI=%s: must be https, "
                    "or http on a loopback address", full);
      return NULL;
    }
    if ((url = strdup (full)) == NULL)
      return NULL;
  }
  else
    return NULL;
  return s3_creds_container_new (url,
                                 env ("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
                                 env ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"));
}

/* 7. Container credentials. */
static int
from_container (struct chain *ch, struct s3_creds_source **src)
{
  (void) ch;
  if (!env ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") &&
      !env ("AWS_CONTAINER_CREDENTIALS_FULL_URI"))
    return 0;
  *src = container_source ();
  return *src ? 1 : -1;
}

static struct s3_creds_source *
imds_source (const struct chain *ch)
{
  const char *endpoint = env ("AWS_EC2_METADATA_SERVICE_ENDPOINT");

  return s3_creds_imds_new (endpoint ? endpoint : IMDS_ENDPOINT,
                            ch->c->imds_v1);
}

/* 8. Instance metadata. */
static int
from_imds (struct chain *ch, struct s3_creds_source **src)
{
  const char *off = env ("AWS_EC2_METADATA_DISABLED");

  if (off && strcasecmp (off, "true") == 0)
    return 0;
  *src = imds_source (ch);
  return *src ? 1 : -1;
}

static int (*const chain[]) (struct chain *, struct s3_creds_source **) = {
  from_keys, from_env, from_role, from_web_identity, from_profile_keys,
  from_process, from_container, from_imds,
};

int
s3_credentials_resolve (struct s3_config *c)
{
  struct aws_profile *p = NULL;
  struct s3_creds_source *src = NULL;
  struct chain ch = { .c = c };
  bool imds_failed = false;     /* the last resort, not configured */
  size_t i;
  int r = 0;

  if ((p = aws_profile_load (NULL)) == NULL)
    return -1;
  ch.p = p;
  for (i = 0; r == 0 && i < sizeof chain / sizeof chain[0]; ++i)
    r = chain[i] (&ch, &src);
  if (r == 1) {
    nbdkit_debug ("s3: credentials from %s", src->name);
    s3_creds_unref (c->creds);
    c->creds = s3_creds_new (src);
    if (c->creds == NULL) {
      imds_failed = chain[i - 1] == from_imds;
      r = imds_failed ? 0 : -1;
    }
  }
  if (r == 0)
    nbdkit_error ("no S3 credentials: set access-key= and secret-key=, or "
                  "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give "
                  "profile [%s] keys, a role_arn or a credential_process "
                  "(~/.aws/credentials, ~/.aws/config)%s; the man page's "
                  "CREDENTIALS lists every source", aws_profile_name (p),
                  imds_failed ? "; the EC2 instance metadata service, tried last, "
                  "gave none (see above)" : "");
  aws_profile_free (p);
  if (r != 1)
    return -1;
  text_secret_free (c->access_key);
  text_secret_free (c->secret_key);
  text_secret_free (c->session_token);
  c->access_key = c->secret_key = c->session_token = NULL;
  return 0;
}
