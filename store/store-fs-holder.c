/* SPDX-License-Identifier: MIT
 *
 * The FS store's holder file (store-fs-holder.h): a few key=value lines,
 *
 *   host=HOST
 *   pid=PID
 *   token=16 hex digits, random, one per process
 *   taken=2026-12-01T14:00:00Z
 *
 * written as a temporary file renamed over nbds3.holder (its name starts
 * with '.' and contains ".tmp.", so the next holder's clean-up removes
 * one a crash left), never torn for a reader.
 */

#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include <nbdkit-plugin.h>

#include "store.h"
#include "store-fs-holder.h"
#include "store-fs-util.h"
#include "text.h"

#define HOLDER_MAX 512

/* This process's token, drawn once. */
static char token[17];
static pthread_once_t token_once = PTHREAD_ONCE_INIT;

static void
draw_token (void)
{
  unsigned char raw[8] = { 0 };

  if (RAND_bytes (raw, sizeof raw) != 1)
    nbdkit_debug ("fs: cannot draw a holder token (OpenSSL RAND)");
  text_hex (raw, sizeof raw, token);
}

void
store_fs_holder_write (const char *dir, int dir_fd)
{
  char text[HOLDER_MAX], host[256] = "", taken[32], tmp[64];
  time_t now = time (NULL);
  struct tm tm;
  bool ok = false;
  int fd, n;

  pthread_once (&token_once, draw_token);
  gethostname (host, sizeof host - 1);
  strftime (taken, sizeof taken, "%Y-%m-%dT%H:%M:%SZ", gmtime_r (&now, &tm));
  n = snprintf (text, sizeof text, "# nbds3: who holds this export's lock "
                "(informative; the flock is the guard)\n"
                "host=%s\npid=%ld\ntoken=%s\ntaken=%s\n",
                host[0] ? host : "?", (long) getpid (), token,
                taken);
  snprintf (tmp, sizeof tmp, "." STORE_HOLDER_NAME ".tmp.%ld",
            (long) getpid ());
  fd = openat (dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd >= 0) {
    ok = write (fd, text, n) == n;
    ok = close (fd) == 0 && ok;
  }
  if (!ok || renameat (dir_fd, tmp, dir_fd, STORE_HOLDER_NAME) == -1) {
    nbdkit_debug ("fs: cannot write %s/" STORE_HOLDER_NAME ": %m", dir);
    unlinkat (dir_fd, tmp, 0);
  }
}

void
store_fs_holder_remove (int dir_fd)
{
  unlinkat (dir_fd, STORE_HOLDER_NAME, 0);
}

/* The value of "NAME=" in TEXT into OUT of SIZE bytes ("" if none). */
static void
value_of (const char *text, const char *name, char *out, size_t size)
{
  size_t nlen = strlen (name);

  out[0] = '\0';
  for (const char *p = text; p; p = strchr (p, '\n'), p = p ? p + 1 : p)
    if (strncmp (p, name, nlen) == 0 && p[nlen] == '=') {
      size_t len = strcspn (p + nlen + 1, "\n");

      snprintf (out, size, "%.*s", (int) (len < size ? len : size - 1),
                p + nlen + 1);
      return;
    }
}

int
store_fs_holder_describe (int dir_fd, char *buf, size_t len)
{
  char text[HOLDER_MAX + 1], host[256], pid[24], taken[32];
  int fd = openat (dir_fd, STORE_HOLDER_NAME, O_RDONLY | O_CLOEXEC);
  ssize_t n;

  if (fd == -1)
    return 0;
  n = store_fs_read_full (fd, text, HOLDER_MAX);
  close (fd);
  if (n <= 0)
    return 0;
  text[n] = '\0';
  value_of (text, "host", host, sizeof host);
  value_of (text, "pid", pid, sizeof pid);
  value_of (text, "taken", taken, sizeof taken);
  snprintf (buf, len, "%s pid %s since %s", host[0] ? host : "?",
            pid[0] ? pid : "?", taken[0] ? taken : "?");
  return 1;
}
