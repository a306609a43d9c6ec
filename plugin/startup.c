/* SPDX-License-Identifier: MIT
 *
 * The start-up warning about the nbdkit that runs us (startup.h).  nbdkit
 * gives a plugin no run-time version, so this runs the nbdkit executable
 * again with --version (the path /proc/self/exe names; valgrind reports
 * its client's path there), reads the first line within a few seconds
 * and compares it with version.h's ranges.  It runs in config_complete,
 * before nbdkit forks or opens its sockets.
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nbdkit-plugin.h>

#include "startup.h"
#include "version.h"

#define VERSION_TIMEOUT_MS 5000

extern char **environ;

/* Start PATH --version with its standard output on a pipe and its input
 * on /dev/null.  The read end of the pipe, or -1 (errno set).
 */
static int
spawn_version (const char *path, pid_t *pid)
{
  char *argv[] = { (char *) path, (char *) "--version", NULL };
  posix_spawn_file_actions_t fa;
  int p[2], err;

  if (pipe2 (p, O_CLOEXEC) == -1)
    return -1;
  posix_spawn_file_actions_init (&fa);
  posix_spawn_file_actions_addopen (&fa, STDIN_FILENO, "/dev/null",
                                    O_RDONLY, 0);
  posix_spawn_file_actions_adddup2 (&fa, p[1], STDOUT_FILENO);
  err = posix_spawn (pid, path, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy (&fa);
  close (p[1]);
  if (err != 0) {
    close (p[0]);
    errno = err;
    return -1;
  }
  return p[0];
}

/* Read FD until a newline, EOF, a full BUF or the timeout: the length. */
static size_t
read_line (int fd, char *buf, size_t size)
{
  size_t len = 0;
  struct pollfd pfd = { .fd = fd, .events = POLLIN };

  while (len < size - 1 && memchr (buf, '\n', len) == NULL) {
    ssize_t n;

    if (poll (&pfd, 1, VERSION_TIMEOUT_MS) <= 0)
      break;
    n = read (fd, buf + len, size - 1 - len);
    if (n <= 0)
      break;
    len += n;
  }
  buf[len] = '\0';
  return len;
}

/* The first line of `nbdkit --version` of the running executable into
 * BUF: 0, or -1 after nbdkit_debug.
 */
static int
running_version_line (char *buf, size_t size)
{
  char exe[PATH_MAX];
  ssize_t n = readlink ("/proc/self/exe", exe, sizeof exe - 1);
  pid_t pid;
  int fd, status;

  if (n == -1) {
    nbdkit_debug ("cannot tell nbdkit's version: /proc/self/exe: %m");
    return -1;
  }
  exe[n] = '\0';
  fd = spawn_version (exe, &pid);
  if (fd == -1) {
    nbdkit_debug ("cannot tell nbdkit's version: %s --version: %m", exe);
    return -1;
  }
  read_line (fd, buf, size);
  close (fd);
  if (waitpid (pid, &status, WNOHANG) == 0) {
    kill (pid, SIGKILL);
    waitpid (pid, &status, 0);
  }
  return 0;
}

void
startup_warn_nbdkit_version (void)
{
  char line[256];
  struct version v;

  if (running_version_line (line, sizeof line) == -1)
    return;
  line[strcspn (line, "\n")] = '\0';
  if (version_parse_nbdkit (line, &v) == -1) {
    nbdkit_debug ("cannot tell nbdkit's version from '%.64s'", line);
    return;
  }
  if (!version_has_reset_abort (&v))
    return;
  nbdkit_error ("nbdkit %u.%u.%u can abort when a client resets its "
                "connection while replies are in flight (fixed in nbdkit "
                "1.34 by commit 9d82aa4f, \"server: Don't assert on send if "
                "client hangs up early\"): upgrade nbdkit, or serve with "
                "--threads=1 (multi-conn clients keep their parallelism)",
                v.major, v.minor, v.micro);
}
