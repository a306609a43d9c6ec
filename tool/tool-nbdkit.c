/* SPDX-License-Identifier: MIT
 *
 * The tool's own nbdkit_* functions.  The plugin's code and the layers
 * below call them, and in a server they live in the nbdkit executable;
 * here they behave as nbdkit-plugin(3) documents them, for a command-line
 * program: nbdkit_error prints "nbds3: error: ..." on stderr (keeping
 * errno, so %m works as in nbdkit), nbdkit_debug prints only with -v,
 * nbdkit_absolute_path prepends the working directory, and
 * nbdkit_read_password reads a secret given literally, as +FILE (its
 * first line), -FD (an inherited descriptor, not 0-2, closed after) or
 * - (the terminal, without echo).
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <nbdkit-plugin.h>

#include "cleanup.h"
#include "text.h"
#include "tool.h"

static bool verbose;
static __thread char *capture;  /* tool_nbdkit_capture's */
static __thread size_t capture_len;

void
tool_nbdkit_set_verbose (bool v)
{
  verbose = v;
}

void
tool_nbdkit_capture (char *buf, size_t len)
{
  capture = buf;
  capture_len = len;
  if (buf)
    buf[0] = '\0';
}

/* Print "nbds3: WHAT: MESSAGE\n" in one write, so that lines of threads
 * (verify's readers) do not mix.
 */
static void __attribute__ ((format (printf, 2, 0)))
print_message (const char *what, const char *fs, va_list args)
{
  char msg[4096];
  int err = errno;

  vsnprintf (msg, sizeof msg, fs, args);
  fprintf (stderr, "nbds3: %s: %s\n", what, msg);
  errno = err;
}

void
nbdkit_verror (const char *fs, va_list args)
{
  int err = errno;

  if (capture) {
    vsnprintf (capture, capture_len, fs, args);
    errno = err;
    return;
  }
  print_message ("error", fs, args);
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
  if (verbose)
    print_message ("debug", fs, args);
}

void
nbdkit_debug (const char *fs, ...)
{
  va_list args;

  if (!verbose)
    return;
  va_start (args, fs);
  nbdkit_vdebug (fs, args);
  va_end (args);
}

char *
nbdkit_absolute_path (const char *path)
{
  CLEANUP_FREE char *cwd = NULL;
  char *abs;

  if (path == NULL || *path == '\0') {
    nbdkit_error ("cannot convert null or empty path to an absolute path");
    return NULL;
  }
  if (*path == '/') {
    abs = strdup (path);
    if (abs == NULL)
      nbdkit_error ("strdup: %m");
    return abs;
  }
  cwd = getcwd (NULL, 0);
  if (cwd == NULL) {
    nbdkit_error ("getcwd: %m");
    return NULL;
  }
  if (asprintf (&abs, "%s/%s", cwd, path) == -1) {
    nbdkit_error ("asprintf: %m");
    return NULL;
  }
  return abs;
}

/* The first line of FD, without its newline, into *PASSWORD; closes
 * FD.  WHAT names it for messages.  0 or -1 after nbdkit_error.
 */
static int
read_password_from_fd (const char *what, int fd, char **password)
{
  FILE *fp = fdopen (fd, "r");
  size_t n = 0;
  ssize_t r;
  int err;

  if (fp == NULL) {
    nbdkit_error ("fdopen %s: %m", what);
    close (fd);
    return -1;
  }
  *password = NULL;
  errno = 0;
  r = getline (password, &n, fp);
  err = errno;
  fclose (fp);
  if (r == -1 && err != 0) {
    errno = err;
    nbdkit_error ("could not read password from %s: %m", what);
    text_secret_free (*password);
    *password = NULL;
    return -1;
  }
  if (r == -1) {                /* empty: an empty password */
    free (*password);
    if ((*password = strdup ("")) == NULL) {
      nbdkit_error ("strdup: %m");
      return -1;
    }
    return 0;
  }
  if (r > 0 && (*password)[r - 1] == '\n')
    (*password)[--r] = '\0';
  return 0;
}

/* Ask for the password on the terminal, without echo. */
static int
read_password_interactive (char **password)
{
  struct termios orig, noecho;
  size_t n = 0;
  ssize_t r;
  int err;

  if (!isatty (STDIN_FILENO)) {
    nbdkit_error ("stdin is not a tty, cannot read password interactively "
                  "(give +FILE or -FD instead)");
    return -1;
  }
  printf ("password: ");
  fflush (stdout);
  tcgetattr (STDIN_FILENO, &orig);
  noecho = orig;
  noecho.c_lflag &= ~ECHO;
  tcsetattr (STDIN_FILENO, TCSAFLUSH, &noecho);
  *password = NULL;
  r = getline (password, &n, stdin);
  err = errno;
  tcsetattr (STDIN_FILENO, TCSAFLUSH, &orig);
  printf ("\n");
  if (r == -1) {
    errno = err;
    nbdkit_error ("could not read password from the terminal: %m");
    text_secret_free (*password);
    *password = NULL;
    return -1;
  }
  if (r > 0 && (*password)[r - 1] == '\n')
    (*password)[--r] = '\0';
  return 0;
}

int
nbdkit_read_password (const char *value, char **password)
{
  *password = NULL;
  if (strcmp (value, "-") == 0)
    return read_password_interactive (password);
  if (value[0] == '-') {
    uint64_t fd;

    if (text_parse_decimal (value + 1, &fd) == -1 || fd > INT32_MAX) {
      nbdkit_error ("could not parse password file descriptor %s", value);
      return -1;
    }
    if (fd <= 2) {
      nbdkit_error ("cannot use password -FD for stdin/stdout/stderr");
      return -1;
    }
    return read_password_from_fd (value, fd, password);
  }
  if (value[0] == '+') {
    int fd = open (value + 1, O_RDONLY | O_CLOEXEC);

    if (fd == -1) {
      nbdkit_error ("open %s: %m", value + 1);
      return -1;
    }
    return read_password_from_fd (value + 1, fd, password);
  }
  *password = strdup (value);
  if (*password == NULL) {
    nbdkit_error ("strdup: %m");
    return -1;
  }
  return 0;
}
