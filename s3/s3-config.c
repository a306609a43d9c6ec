/* SPDX-License-Identifier: MIT
 *
 * Copying and freeing struct s3_config (s3-config.h); secrets are wiped
 * before they are freed.
 */

#include <config.h>

#include <stdlib.h>
#include <string.h>

#include <nbdkit-plugin.h>

#include "s3-config.h"
#include "s3-credentials.h"
#include "text.h"

static bool
copy_str (char **dst, const char *src)
{
  *dst = NULL;
  return src == NULL || (*dst = strdup (src)) != NULL;
}

int
s3_config_copy (struct s3_config *dst, const struct s3_config *src)
{
  bool ok;

  /* Every copy_str runs (&, not &&), so that none of DST's strings is
   * left pointing into SRC for s3_config_free to free.
   */
  *dst = *src;
  ok = copy_str (&dst->bucket, src->bucket) &
    copy_str (&dst->region, src->region) &
    copy_str (&dst->endpoint, src->endpoint) &
    copy_str (&dst->access_key, src->access_key) &
    copy_str (&dst->secret_key, src->secret_key) &
    copy_str (&dst->session_token, src->session_token) &
    copy_str (&dst->ca_file, src->ca_file) &
    copy_str (&dst->prefix, src->prefix) &
    copy_str (&dst->sse, src->sse) &
    copy_str (&dst->sse_kms_key_id, src->sse_kms_key_id) &
    copy_str (&dst->storage_class, src->storage_class);
  if (!ok) {
    nbdkit_error ("s3: out of memory");
    dst->creds = NULL;
    s3_config_free (dst);
    return -1;
  }
  s3_creds_ref (dst->creds);
  return 0;
}

void
s3_config_free (struct s3_config *c)
{
  text_secret_free (c->access_key);
  text_secret_free (c->secret_key);
  text_secret_free (c->session_token);
  free (c->bucket);
  free (c->region);
  free (c->endpoint);
  free (c->ca_file);
  s3_creds_unref (c->creds);
  c->creds = NULL;
  c->access_key = c->secret_key = c->session_token = NULL;
  c->bucket = c->region = c->endpoint = c->ca_file = NULL;
  free (c->prefix);
  free (c->sse);
  free (c->sse_kms_key_id);
  free (c->storage_class);
  c->prefix = c->sse = c->sse_kms_key_id = c->storage_class = NULL;
}
