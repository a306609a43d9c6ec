/* SPDX-License-Identifier: MIT
 *
 * Where the S3 store's credentials come from when the configuration does
 * not give them, in the order of the AWS tools: the AWS_* environment
 * variables, then a profile of the shared credentials file (INI:
 * "[profile]" sections of "key = value" lines, '#' and ';' comments).
 * Also the region and the endpoint.  Runs once, in .config_complete.
 *
 * Secrets are never printed; every buffer that held one (the file's text,
 * the strings themselves) is wiped with OPENSSL_cleanse before it is
 * freed.
 */

#include <config.h>

#include <errno.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include <nbdkit-plugin.h>

#include "cleanup.h"
#include "s3-credentials.h"
#include "text.h"

#define CREDENTIALS_FILE_MAX (1024 * 1024)

/* The environment variable NAME if set and not empty, else NULL. */
static const char *
env (const char *name)
{
  const char *v = getenv (name);

  return v && *v ? v : NULL;
}

/* Set *DST to a copy of SRC (not NULL).  0 or -1. */
static int
set_str (char **dst, const char *src)
{
  if ((*dst = strdup (src)) == NULL) {
    nbdkit_error ("s3: out of memory");
    return -1;
  }
  return 0;
}

/* Read the file PATH into a new NUL-terminated buffer.  NULL with errno
 * set (ENOENT if it does not exist, EFBIG if it is too large).
 */
static char *
read_text (const char *path)
{
  FILE *fp = fopen (path, "re");
  char *text;
  size_t n;
  int err;

  if (fp == NULL)
    return NULL;
  text = malloc (CREDENTIALS_FILE_MAX + 1);
  if (text == NULL) {
    fclose (fp);
    errno = ENOMEM;
    return NULL;
  }
  n = fread (text, 1, CREDENTIALS_FILE_MAX + 1, fp);
  err = ferror (fp) ? EIO : n > CREDENTIALS_FILE_MAX ? EFBIG : 0;
  fclose (fp);
  if (err) {
    OPENSSL_cleanse (text, n);
    free (text);
    errno = err;
    return NULL;
  }
  text[n] = '\0';
  return text;
}

/* Look up PROFILE in the credentials file at PATH and fill C's keys from
 * it.  1 if both keys were found, 0 if the file or the profile or a key is
 * missing, -1 on error.
 */
static int
from_file (struct s3_config *c, const char *path, const char *profile)
{
  char *text = read_text (path), *line, *save;
  char *key_id = NULL, *secret = NULL, *token = NULL;
  bool in_profile = false;
  size_t len;
  int r = 0;

  if (text == NULL && errno == ENOENT) {
    nbdkit_debug ("s3: no credentials file %s", path);
    return 0;
  }
  if (text == NULL) {
    nbdkit_error ("cannot read the S3 credentials file %s: %m", path);
    return -1;
  }
  len = strlen (text);
  for (line = strtok_r (text, "\n", &save); line;
       line = strtok_r (NULL, "\n", &save)) {
    char *l = text_trim (line), *eq, *name, *value;

    if (*l == '\0' || *l == '#' || *l == ';')
      continue;
    if (*l == '[') {
      char *close = strchr (l, ']');

      if (close) {
        *close = '\0';
        in_profile = strcmp (text_trim (l + 1), profile) == 0;
      }
      continue;
    }
    if (!in_profile || (eq = strchr (l, '=')) == NULL)
      continue;
    *eq = '\0';
    name = text_trim (l);
    value = text_trim (eq + 1);
    if (strcasecmp (name, "aws_access_key_id") == 0)
      key_id = value;
    else if (strcasecmp (name, "aws_secret_access_key") == 0)
      secret = value;
    else if (strcasecmp (name, "aws_session_token") == 0)
      token = value;
  }
  if (key_id && *key_id && secret && *secret) {
    if (set_str (&c->access_key, key_id) == -1 ||
        set_str (&c->secret_key, secret) == -1 ||
        (token && *token && set_str (&c->session_token, token) == -1))
      r = -1;
    else {
      nbdkit_debug ("s3: credentials from %s, profile %s", path, profile);
      r = 1;
    }
  }
  else if (key_id || secret)
    nbdkit_debug ("s3: profile %s of %s lacks aws_access_key_id or "
                  "aws_secret_access_key", profile, path);
  else
    nbdkit_debug ("s3: no profile %s with keys in %s", profile, path);
  OPENSSL_cleanse (text, len);
  free (text);
  return r;
}

/* FILE made absolute (nbdkit changes to / when it forks).  NULL if out
 * of memory.
 */
static char *
absolute (const char *file)
{
  char cwd[4096];
  char *path;

  if (file[0] == '/')
    return strdup (file);
  if (getcwd (cwd, sizeof cwd) == NULL ||
      asprintf (&path, "%s/%s", cwd, file) == -1)
    return NULL;
  return path;
}

/* The default credentials file, ~/.aws/credentials.  */
static char *
default_file (void)
{
  const char *home = env ("HOME");
  struct passwd pw, *pwp = NULL;
  char buf[4096];
  char *path;

  if (home == NULL &&
      getpwuid_r (getuid (), &pw, buf, sizeof buf, &pwp) == 0 && pwp)
    home = pw.pw_dir;
  if (home == NULL)
    return NULL;
  if (asprintf (&path, "%s/.aws/credentials", home) == -1)
    return NULL;
  return path;
}

static int
resolve_keys (struct s3_config *c)
{
  const char *id = env ("AWS_ACCESS_KEY_ID");
  const char *secret = env ("AWS_SECRET_ACCESS_KEY");
  const char *token = env ("AWS_SESSION_TOKEN");
  const char *profile = env ("AWS_PROFILE");
  const char *file = env ("AWS_SHARED_CREDENTIALS_FILE");
  CLEANUP_FREE char *path = NULL;
  int r;

  if (c->access_key && c->secret_key)
    return 0;
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

  if (id && secret) {
    if (set_str (&c->access_key, id) == -1 ||
        set_str (&c->secret_key, secret) == -1 ||
        (token && set_str (&c->session_token, token) == -1))
      return -1;
    nbdkit_debug ("s3: credentials from AWS_ACCESS_KEY_ID and "
                  "AWS_SECRET_ACCESS_KEY%s",
                  token ? " (and AWS_SESSION_TOKEN)" : "");
    return 0;
  }
  if (id || secret)
    nbdkit_debug ("s3: %s is set without %s: ignored",
                  id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                  id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");

  if (file)
    path = absolute (file);
  else
    path = default_file ();
  if (profile == NULL)
    profile = "default";
  if (path) {
    r = from_file (c, path, profile);
    if (r != 0)
      return r == 1 ? 0 : -1;
  }
  nbdkit_error ("no S3 credentials: set access-key= and secret-key=, or "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
                "aws_access_key_id and aws_secret_access_key in profile "
                "[%s] of %s", profile, path ? path : "~/.aws/credentials");
  return -1;
}

int
s3_credentials_resolve (struct s3_config *c)
{
  const char *v;

  if (resolve_keys (c) == -1)
    return -1;
  if (c->region == NULL) {
    v = env ("AWS_REGION");
    if (v == NULL)
      v = env ("AWS_DEFAULT_REGION");
    if (set_str (&c->region, v ? v : "us-east-1") == -1)
      return -1;
  }
  if (c->endpoint == NULL && (v = env ("AWS_ENDPOINT_URL")) != NULL &&
      set_str (&c->endpoint, v) == -1)
    return -1;
  return 0;
}
