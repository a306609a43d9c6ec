/* SPDX-License-Identifier: MIT
 *
 * The AWS shared config file (AWS_CONFIG_FILE, else ~/.aws/config) and
 * credentials file (AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials),
 * read the way botocore reads them (Python's configparser, then its own
 * nested values): "[section]" headers; "key = value" or "key: value"
 * lines, the key case-insensitive; whole-line comments starting with '#'
 * or ';' (no inline comments); a line indented deeper than its key
 * continues that key's value.  A key whose value is empty and continues
 * on indented "sub = value" lines is nested: it is looked up as
 * "key.sub" (botocore's "s3 =\n  addressing_style = path").  In the
 * config file a profile is "[default]" or "[profile NAME]" (other
 * sections, such as "[sso-session X]", are not profiles); in the
 * credentials file it is "[NAME]".  A profile given twice merges, the
 * later value winning.  A key before any section, or a line that is none
 * of these, makes the file malformed, as it does for the AWS CLI.
 *
 * Only the one profile asked for is kept.  Every value may be a secret:
 * each is wiped (OPENSSL_cleanse) before it is freed, and so is the text
 * of the files.  Nothing here prints a value.
 */

#include <config.h>

#include <ctype.h>
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

#include "aws-profile.h"
#include "cleanup.h"
#include "text.h"

#define AWS_FILE_MAX (1024 * 1024)

struct entry {
  char *key;                    /* lower case; "parent.sub" when nested */
  char *value;                  /* maybe a secret */
};

/* The entries of the profile's sections in one file, in file order. */
struct entries {
  struct entry *v;
  size_t n, cap;
};

struct aws_profile {
  char *name;
  struct entries creds;         /* looked up first */
  struct entries config;
};

/* What the parser of one file knows at the current line. */
struct parser {
  const char *path;
  unsigned lineno;
  bool is_config;               /* "[profile NAME]" headers */
  const char *want;             /* the profile's name */
  bool seen_section;
  bool in_profile;              /* the current section is the profile */
  bool have_key;                /* a key line opened a value */
  size_t key_indent;            /* that line's indentation */
  bool nested;                  /* its value was empty: sub-keys follow */
  char *parent;                 /* its key (nested values) */
  struct entries *out;
};

static const char *
env (const char *name)
{
  const char *v = getenv (name);

  return v && *v ? v : NULL;
}

static void
entries_free (struct entries *e)
{
  for (size_t i = 0; i < e->n; ++i) {
    free (e->v[i].key);
    text_secret_free (e->v[i].value);
  }
  free (e->v);
  e->v = NULL;
  e->n = e->cap = 0;
}

/* Append KEY (lower-cased) = VALUE, both copied.  0 or -1. */
static int
entries_add (struct entries *e, const char *key, const char *value)
{
  struct entry *ent;

  if (e->n == e->cap) {
    size_t cap = e->cap ? e->cap * 2 : 8;
    struct entry *v = realloc (e->v, cap * sizeof *v);

    if (v == NULL)
      goto oom;
    e->v = v;
    e->cap = cap;
  }
  ent = &e->v[e->n];
  ent->key = strdup (key);
  ent->value = strdup (value);
  if (ent->key == NULL || ent->value == NULL) {
    free (ent->key);
    text_secret_free (ent->value);
    goto oom;
  }
  for (char *k = ent->key; *k; ++k)
    *k = tolower ((unsigned char) *k);
  e->n++;
  return 0;
 oom:
  nbdkit_error ("aws profile: out of memory");
  return -1;
}

/* Append "\nMORE" to the last entry's value (configparser's multi-line
 * values).  0 or -1.
 */
static int
entries_extend (struct entries *e, const char *more)
{
  struct entry *ent = &e->v[e->n - 1];
  char *v;

  if (asprintf (&v, "%s\n%s", ent->value, more) == -1) {
    nbdkit_error ("aws profile: out of memory");
    return -1;
  }
  text_secret_free (ent->value);
  ent->value = v;
  return 0;
}

static const char *
lookup (const struct entries *e, const char *key)
{
  for (size_t i = e->n; i-- > 0;)
    if (strcasecmp (e->v[i].key, key) == 0)
      return e->v[i].value;
  return NULL;
}

static int
malformed (const struct parser *ps, const char *what)
{
  nbdkit_error ("%s line %u: %s: the AWS %s file takes [section] headers, "
                "\"key = value\" lines and '#' comments; fix the line",
                ps->path, ps->lineno, what,
                ps->is_config ? "config" : "credentials");
  return -1;
}

/* The profile a section header names, in place, or NULL if it names none
 * (config file: "default" or "profile NAME"; credentials file: any).
 */
static char *
section_profile (const struct parser *ps, char *header)
{
  size_t len;

  if (!ps->is_config || strcmp (header, "default") == 0)
    return header;
  if (strncmp (header, "profile", 7) != 0 || !text_is_space (header[7]))
    return NULL;
  header = text_trim (header + 8);
  len = strlen (header);
  if (len >= 2 && header[0] == '"' && header[len - 1] == '"') {
    header[len - 1] = '\0';
    header++;
  }
  return header;
}

/* A "[...]" line, trimmed. */
static int
parse_header (struct parser *ps, char *t)
{
  size_t len = strlen (t);
  char *name;

  if (len < 3 || t[len - 1] != ']')
    return malformed (ps, "a section header without its ']'");
  t[len - 1] = '\0';
  name = section_profile (ps, text_trim (t + 1));
  ps->seen_section = true;
  ps->in_profile = name && strcmp (name, ps->want) == 0;
  ps->have_key = false;
  return 0;
}

/* An indented line after a key line: a sub-key or more of the value. */
static int
parse_continuation (struct parser *ps, char *t)
{
  char *eq, *sub;
  CLEANUP_FREE char *key = NULL;

  if (!ps->in_profile)
    return 0;
  if (!ps->nested)
    return entries_extend (ps->out, t);
  if ((eq = strchr (t, '=')) == NULL)
    return malformed (ps, "a nested line without '='");
  *eq = '\0';
  sub = text_trim (t);
  if (*sub == '\0')
    return malformed (ps, "a nested line without a key");
  if (asprintf (&key, "%s.%s", ps->parent, sub) == -1) {
    nbdkit_error ("aws profile: out of memory");
    return -1;
  }
  return entries_add (ps->out, key, text_trim (eq + 1));
}

/* A "key = value" (or "key: value") line, trimmed, indented by INDENT. */
static int
parse_key (struct parser *ps, char *t, size_t indent)
{
  size_t n = strcspn (t, "=:");
  char *key, *value;

  if (!ps->seen_section)
    return malformed (ps, "a key before any [section] header");
  if (t[n] == '\0')
    return malformed (ps, "neither a [section], a comment nor key = value");
  t[n] = '\0';
  key = text_trim (t);
  value = text_trim (t + n + 1);
  if (*key == '\0')
    return malformed (ps, "a value without a key");
  ps->have_key = true;
  ps->key_indent = indent;
  ps->nested = *value == '\0';
  free (ps->parent);
  ps->parent = NULL;
  if (!ps->in_profile)
    return 0;
  if (ps->nested && (ps->parent = strdup (key)) == NULL) {
    nbdkit_error ("aws profile: out of memory");
    return -1;
  }
  return ps->nested ? 0 : entries_add (ps->out, key, value);
}

static int
parse_line (struct parser *ps, char *line)
{
  size_t indent = strspn (line, " \t");
  char *t = text_trim (line);

  if (*t == '\0' || *t == '#' || *t == ';')
    return 0;
  if (indent > 0 && ps->have_key && indent > ps->key_indent)
    return parse_continuation (ps, t);
  if (*t == '[')
    return parse_header (ps, t);
  return parse_key (ps, t, indent);
}

/* Parse TEXT (modified in place) into OUT.  0 or -1. */
static int
parse_text (struct parser *ps, char *text)
{
  char *line = text, *nl;
  int r = 0;

  while (r == 0 && line) {
    nl = strchr (line, '\n');
    if (nl)
      *nl++ = '\0';
    ps->lineno++;
    r = parse_line (ps, line);
    line = nl;
  }
  free (ps->parent);
  ps->parent = NULL;
  return r;
}

/* Read PATH into a new NUL-terminated buffer of *LEN bytes.  NULL with
 * errno set (ENOENT if absent, EFBIG if too large, EINVAL for a NUL).
 */
static char *
read_text (const char *path, size_t *len)
{
  FILE *fp = fopen (path, "re");
  char *text;
  size_t n;
  int err;

  if (fp == NULL)
    return NULL;
  if ((text = malloc (AWS_FILE_MAX + 1)) == NULL) {
    fclose (fp);
    errno = ENOMEM;
    return NULL;
  }
  n = fread (text, 1, AWS_FILE_MAX + 1, fp);
  err = ferror (fp) ? EIO : n > AWS_FILE_MAX ? EFBIG : 0;
  fclose (fp);
  if (err == 0 && memchr (text, '\0', n))
    err = EINVAL;
  if (err) {
    OPENSSL_cleanse (text, n);
    free (text);
    errno = err;
    return NULL;
  }
  text[n] = '\0';
  *len = n;
  return text;
}

/* The file of ENV_NAME ("~/" expanded) or else ~/DEFAULT.  NULL when
 * there is no home directory to find it in, or out of memory.
 */
static char *
file_path (const char *env_name, const char *deflt)
{
  const char *file = env (env_name), *home = env ("HOME");
  struct passwd pw, *pwp = NULL;
  char buf[4096];
  char *path;

  if (file && strncmp (file, "~/", 2) != 0)
    return strdup (file);
  if (home == NULL &&
      getpwuid_r (getuid (), &pw, buf, sizeof buf, &pwp) == 0 && pwp)
    home = pw.pw_dir;
  if (home == NULL)
    return NULL;
  if (asprintf (&path, "%s/%s", home, file ? file + 2 : deflt) == -1)
    return NULL;
  return path;
}

/* Read the profile's sections of the file of ENV_NAME into OUT. */
static int
load_file (struct aws_profile *p, struct entries *out, bool is_config,
           const char *env_name, const char *deflt)
{
  CLEANUP_FREE char *path = file_path (env_name, deflt);
  struct parser ps = {
    .path = path, .is_config = is_config, .want = p->name, .out = out,
  };
  char *text;
  size_t len = 0;
  int r;

  if (path == NULL) {
    nbdkit_debug ("s3: no home directory: no ~/%s", deflt);
    return 0;
  }
  if ((text = read_text (path, &len)) == NULL) {
    if (errno == ENOENT) {
      nbdkit_debug ("s3: no AWS %s file %s", is_config ? "config"
                    : "credentials", path);
      return 0;
    }
    nbdkit_error ("cannot read the AWS %s file %s: %s: fix it, or set %s "
                  "to another file", is_config ? "config" : "credentials",
                  path, errno == EINVAL ? "it holds a NUL byte"
                  : strerror (errno), env_name);
    return -1;
  }
  r = parse_text (&ps, text);
  OPENSSL_cleanse (text, len);
  free (text);
  if (r == 0)
    nbdkit_debug ("s3: %s: %zu values in profile %s", path, out->n,
                  p->name);
  return r;
}

struct aws_profile *
aws_profile_load (const char *name)
{
  struct aws_profile *p = calloc (1, sizeof *p);

  if (name == NULL && (name = env ("AWS_PROFILE")) == NULL)
    name = "default";
  if (p == NULL || (p->name = strdup (name)) == NULL) {
    nbdkit_error ("aws profile: out of memory");
    free (p);
    return NULL;
  }
  if (load_file (p, &p->creds, false, "AWS_SHARED_CREDENTIALS_FILE",
                 ".aws/credentials") == -1 ||
      load_file (p, &p->config, true, "AWS_CONFIG_FILE",
                 ".aws/config") == -1) {
    aws_profile_free (p);
    return NULL;
  }
  return p;
}

const char *
aws_profile_get (const struct aws_profile *p, const char *key)
{
  const char *v = lookup (&p->creds, key);

  return v ? v : lookup (&p->config, key);
}

const char *
aws_profile_name (const struct aws_profile *p)
{
  return p->name;
}

void
aws_profile_free (struct aws_profile *p)
{
  if (p == NULL)
    return;
  entries_free (&p->creds);
  entries_free (&p->config);
  free (p->name);
  free (p);
}
