/* SPDX-License-Identifier: MIT
 *
 * The S3 client's settings that the AWS tools also take from the
 * environment and the shared config file: region, endpoint, addressing
 * style and CA bundle, each from the first source that gives it (the
 * order is in s3-settings.h, botocore's), and the checks of the settings
 * nbds3 adds: prefix=, sse=, sse-kms-key-id= and storage-class=.  Runs
 * once, in .config_complete, before the credential chain
 * (s3-credentials.c), so that the chain finds region and endpoint set.
 * Also the pure decisions about a region redirect (s3-http.c follows
 * them): which region S3 reported, and whether it may be followed (only
 * on AWS's own endpoint form, and only when region= was not given).
 *
 * -D nbds3.s3=1 says where each setting came from; none is a secret.
 */

#include <config.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <nbdkit-plugin.h>

#include "aws-profile.h"
#include "debug.h"
#include "s3-settings.h"

#define PREFIX_MAX 512

/* S3's storage classes that serve a GET at once.  GLACIER and
 * DEEP_ARCHIVE need a restore before every read, so a block device
 * cannot live there.
 */
static const char *const storage_classes[] = {
  "STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA",
  "INTELLIGENT_TIERING", "GLACIER_IR", "EXPRESS_ONEZONE", "OUTPOSTS",
  "SNOW",
};

static const char *
env (const char *name)
{
  const char *v = getenv (name);

  return v && *v ? v : NULL;
}

/* The first of the environment variables NAMES (NULL-terminated) that is
 * set, its name in *FROM.
 */
static const char *
first_env (const char *const *names, const char **from)
{
  for (; *names; ++names) {
    const char *v = env (*names);

    if (v) {
      *from = *names;
      return v;
    }
  }
  return NULL;
}

/* Set the unset setting *DST from the environment variables ENVS, else
 * the profile's keys KEYS, else DEFLT (may be NULL).  0 or -1.
 */
static int
fill (char **dst, const char *what, const char *const *envs,
      const struct aws_profile *p, const char *const *keys,
      const char *deflt)
{
  const char *from = NULL, *v = first_env (envs, &from), *key = NULL;

  if (*dst)
    return 0;
  for (; v == NULL && *keys; ++keys)
    if ((v = aws_profile_get (p, *keys)) != NULL)
      key = *keys;
  if (v == NULL && (v = deflt) == NULL)
    return 0;
  if ((*dst = strdup (v)) == NULL) {
    nbdkit_error ("s3: out of memory");
    return -1;
  }
  if (!nbds3_debug_s3)
    return 0;
  if (from)
    nbdkit_debug ("s3: %s %s from %s", what, v, from);
  else if (key)
    nbdkit_debug ("s3: %s %s from profile %s (%s)", what, v,
                  aws_profile_name (p), key);
  else
    nbdkit_debug ("s3: %s %s (the default)", what, v);
  return 0;
}

static int
resolve_addressing (struct s3_config *c, const struct aws_profile *p)
{
  const char *v = aws_profile_get (p, "s3.addressing_style");

  if (c->addressing_given || v == NULL)
    return 0;
  if (strcmp (v, "path") == 0)
    c->addressing = S3_ADDRESSING_PATH;
  else if (strcmp (v, "virtual") == 0)
    c->addressing = S3_ADDRESSING_VIRTUAL;
  else if (strcmp (v, "auto") == 0)
    c->addressing = S3_ADDRESSING_AUTO;
  else {
    nbdkit_error ("profile %s: s3 addressing_style = %s: use path, virtual "
                  "or auto (or give addressing=)", aws_profile_name (p), v);
    return -1;
  }
  nbdkit_debug ("s3: addressing %s from profile %s", v, aws_profile_name (p));
  return 0;
}

/* A CA bundle from AWS_CA_BUNDLE or the profile must be readable. */
static int
resolve_ca (struct s3_config *c, const struct aws_profile *p)
{
  static const char *const envs[] = { "AWS_CA_BUNDLE", NULL };
  static const char *const keys[] = { "ca_bundle", NULL };
  bool given = c->ca_file != NULL;

  if (fill (&c->ca_file, "CA bundle", envs, p, keys, NULL) == -1)
    return -1;
  if (given || c->ca_file == NULL || access (c->ca_file, R_OK) == 0)
    return 0;
  nbdkit_error ("CA bundle %s (from AWS_CA_BUNDLE or ca_bundle of profile "
                "%s): %m: fix it, or give ca-file=", c->ca_file,
                aws_profile_name (p));
  return -1;
}

bool
s3_settings_prefix_valid (const char *prefix)
{
  size_t len = strlen (prefix);
  const char *seg = prefix;

  if (len == 0 || len > PREFIX_MAX || prefix[0] == '/')
    return false;
  for (const char *q = prefix; *q; ++q)
    if ((unsigned char) *q < 0x21 || (unsigned char) *q > 0x7e)
      return false;
  for (;;) {
    size_t n = strcspn (seg, "/");

    if ((n == 0 && seg[0] == '/') || (n == 1 && seg[0] == '.') ||
        (n == 2 && seg[0] == '.' && seg[1] == '.'))
      return false;
    if (seg[n] == '\0' || seg[n + 1] == '\0')
      return true;
    seg += n + 1;
  }
}

static int
check_prefix (struct s3_config *c)
{
  size_t len;

  if (c->prefix == NULL)
    return 0;
  if (!s3_settings_prefix_valid (c->prefix)) {
    nbdkit_error ("prefix=%s: not a key prefix: use 1-%d printable ASCII "
                  "characters without spaces, no leading '/', no empty, '.' "
                  "or '..' segment (e.g. tenant-a or team/vm1)", c->prefix,
                  PREFIX_MAX);
    return -1;
  }
  len = strlen (c->prefix);
  if (c->prefix[len - 1] == '/')
    c->prefix[len - 1] = '\0';
  return 0;
}

static int
check_sse (const struct s3_config *c)
{
  size_t n = sizeof storage_classes / sizeof storage_classes[0];
  bool known = c->storage_class == NULL;

  if (c->sse && strcmp (c->sse, "AES256") != 0 &&
      strcmp (c->sse, "aws:kms") != 0) {
    nbdkit_error ("sse=%s: use AES256 (S3-managed keys) or aws:kms (KMS; "
                  "with sse-kms-key-id= for a key of your own)", c->sse);
    return -1;
  }
  if (c->sse_kms_key_id && (c->sse == NULL || strcmp (c->sse, "aws:kms"))) {
    nbdkit_error ("sse-kms-key-id= needs sse=aws:kms");
    return -1;
  }
  for (size_t i = 0; !known && i < n; ++i)
    known = strcmp (c->storage_class, storage_classes[i]) == 0;
  if (!known) {
    nbdkit_error ("storage-class=%s: use one of S3's classes that read at "
                  "once: STANDARD, REDUCED_REDUNDANCY, STANDARD_IA, "
                  "ONEZONE_IA, INTELLIGENT_TIERING, GLACIER_IR, "
                  "EXPRESS_ONEZONE, OUTPOSTS or SNOW (GLACIER and "
                  "DEEP_ARCHIVE need a restore before each read)",
                  c->storage_class);
    return -1;
  }
  return 0;
}

int
s3_settings_resolve (struct s3_config *c)
{
  static const char *const region_envs[] = {
    "AWS_REGION", "AWS_DEFAULT_REGION", NULL,
  };
  static const char *const region_keys[] = { "region", NULL };
  static const char *const endpoint_envs[] = {
    "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", NULL,
  };
  static const char *const endpoint_keys[] = {
    "s3.endpoint_url", "endpoint_url", NULL,
  };
  struct aws_profile *p;
  int r;

  if (check_prefix (c) == -1 || check_sse (c) == -1)
    return -1;
  if ((p = aws_profile_load (NULL)) == NULL)
    return -1;
  c->region_given = c->region != NULL;
  r = fill (&c->region, "region", region_envs, p, region_keys,
            "us-east-1") == -1 ||
    fill (&c->endpoint, "endpoint", endpoint_envs, p, endpoint_keys,
          NULL) == -1 ||
    resolve_addressing (c, p) == -1 || resolve_ca (c, p) == -1 ? -1 : 0;
  aws_profile_free (p);
  return r;
}

bool
s3_settings_endpoint_is_aws (const char *endpoint)
{
  static const char head[] = "https://s3.", tail[] = ".amazonaws.com";
  const size_t lh = sizeof head - 1, lt = sizeof tail - 1;
  size_t len;

  if (endpoint == NULL)
    return true;
  len = strlen (endpoint);
  if (len > 0 && endpoint[len - 1] == '/')
    len--;
  if (len == strlen ("https://s3.amazonaws.com") &&
      strncasecmp (endpoint, "https://s3.amazonaws.com", len) == 0)
    return true;
  if (len <= lh + lt || strncasecmp (endpoint, head, lh) != 0 ||
      strncasecmp (endpoint + len - lt, tail, lt) != 0)
    return false;
  /* The region between: lower-case letters, digits and '-' only. */
  for (size_t i = lh; i < len - lt; ++i)
    if (!(endpoint[i] == '-' || (endpoint[i] >= 'a' && endpoint[i] <= 'z') ||
          (endpoint[i] >= '0' && endpoint[i] <= '9')))
      return false;
  return true;
}

static bool
region_valid (const char *r)
{
  size_t len = r ? strlen (r) : 0;

  if (len == 0 || len > 32)
    return false;
  for (; *r; ++r)
    if (!(*r == '-' || (*r >= 'a' && *r <= 'z') || (*r >= '0' && *r <= '9')))
      return false;
  return true;
}

const char *
s3_settings_reported_region (const struct s3_config *c, long status,
                             const char *code, const char *header_region,
                             const char *body_region)
{
  const char *r = region_valid (header_region) ? header_region
    : region_valid (body_region) ? body_region : NULL;

  if (status != 301 &&
      !(status == 400 && code &&
        strcmp (code, "AuthorizationHeaderMalformed") == 0))
    return NULL;
  if (r == NULL || (c->region && strcmp (r, c->region) == 0))
    return NULL;
  return r;
}

bool
s3_settings_may_follow (const struct s3_config *c, const char *region)
{
  return region_valid (region) && !c->region_given &&
    s3_settings_endpoint_is_aws (c->endpoint);
}
