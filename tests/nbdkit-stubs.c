/* SPDX-License-Identifier: MIT
 *
 * The nbdkit_* functions live in the nbdkit executable, not in a library,
 * so the unit tests link these small stand-ins.  nbdkit_error keeps the
 * last message so that a test can assert what the code under test
 * reported; nbdkit_debug prints only when NBDS3_TEST_DEBUG is set.
 */

#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include <nbdkit-plugin.h>

#include "nbdkit-stubs.h"

static pthread_mutex_t stub_lock = PTHREAD_MUTEX_INITIALIZER;
static char last_error[4096];   /* guarded by stub_lock */
static unsigned error_count;    /* guarded by stub_lock */

void
nbdkit_verror (const char *fs, va_list args)
{
  char msg[sizeof last_error];

  vsnprintf (msg, sizeof msg, fs, args);
  if (getenv ("NBDS3_TEST_DEBUG"))
    fprintf (stderr, "nbdkit_error: %s\n", msg);
  pthread_mutex_lock (&stub_lock);
  memcpy (last_error, msg, sizeof msg);
  error_count++;
  pthread_mutex_unlock (&stub_lock);
}

void
nbdkit_error (const char *fs, ...)
{
  va_list args;

  va_start (args, fs);
  nbdkit_verror (fs, args);
  va_end (args);
}

void
nbdkit_vdebug (const char *fs, va_list args)
{
  if (getenv ("NBDS3_TEST_DEBUG")) {
    vfprintf (stderr, fs, args);
    fputc ('\n', stderr);
  }
}

void
nbdkit_debug (const char *fs, ...)
{
  va_list args;

  va_start (args, fs);
  nbdkit_vdebug (fs, args);
  va_end (args);
}

const char *
stub_last_error (char *buf, size_t len)
{
  pthread_mutex_lock (&stub_lock);
  snprintf (buf, len, "%s", last_error);
  pthread_mutex_unlock (&stub_lock);
  return buf;
}

unsigned
stub_error_count (void)
{
  unsigned n;

  pthread_mutex_lock (&stub_lock);
  n = error_count;
  pthread_mutex_unlock (&stub_lock);
  return n;
}

void
stub_reset_errors (void)
{
  pthread_mutex_lock (&stub_lock);
  last_error[0] = '\0';
  error_count = 0;
  pthread_mutex_unlock (&stub_lock);
}
