/* SPDX-License-Identifier: MIT
 *
 * The credential_process source (s3-creds.h): a profile's command, run
 * with /bin/sh -c on every fetch, its standard input /dev/null, its
 * standard error nbdkit's, its standard output read (at most 64 KiB,
 * within PROCESS_TIMEOUT_S) as the JSON object of the AWS CLI's
 * contract: Version 1, AccessKeyId, SecretAccessKey, optional
 * SessionToken and Expiration.  Credentials without an Expiration never
 * expire (they are fetched again only after the server refuses them).
 * The output holds secrets: wiped after use, never printed.
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include <nbdkit-plugin.h>

#include "clock.h"
#include "s3-creds.h"
#include "text.h"

#define PROCESS_TIMEOUT_S 60
#define OUTPUT_MAX (64 * 1024)

extern char **environ;

struct process_source {
  struct s3_creds_source src;
  char *command;
};

/* Start COMMAND with its stdout on a pipe: *FD its read end.  The pid,
 * or -1 after nbdkit_error.
 */
static pid_t
start (const struct process_source *p, int *fd)
{
  char *argv[] = { (char *) "/bin/sh", (char *) "-c", p->command, NULL };
  posix_spawn_file_actions_t fa;
  int pipefd[2], e;
  pid_t pid;

  if (pipe2 (pipefd, O_CLOEXEC) == -1) {
    nbdkit_error ("%s: pipe: %m", p->src.name);
    return -1;
  }
  posix_spawn_file_actions_init (&fa);
  posix_spawn_file_actions_addopen (&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2 (&fa, pipefd[1], 1);
  e = posix_spawn (&pid, "/bin/sh", &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy (&fa);
  close (pipefd[1]);
  if (e != 0) {
    close (pipefd[0]);
    errno = e;
    nbdkit_error ("%s: cannot run /bin/sh: %m", p->src.name);
    return -1;
  }
  *fd = pipefd[0];
  return pid;
}

/* Read FD to its end into BUF (OUTPUT_MAX + 1 bytes), within the
 * timeout.  The length, or -1 with *WHY set.
 */
static ssize_t
read_all (int fd, char *buf, const char **why)
{
  const int64_t deadline = clock_now_ns () + PROCESS_TIMEOUT_S * NS_PER_SEC;
  size_t n = 0;

  for (;;) {
    int64_t left_ms = (deadline - clock_now_ns ()) / NS_PER_MS;
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    ssize_t r;

    if (left_ms <= 0) {
      *why = "it did not finish within 60 s";
      return -1;
    }
    if (poll (&pfd, 1, left_ms) == -1 && errno != EINTR) {
      *why = "poll failed";
      return -1;
    }
    r = read (fd, buf + n, OUTPUT_MAX + 1 - n);
    if (r == -1 && (errno == EINTR || errno == EAGAIN))
      continue;
    if (r == -1) {
      *why = "reading its output failed";
      return -1;
    }
    if (r == 0)
      return n;
    n += r;
    if (n > OUTPUT_MAX) {
      *why = "its output is longer than 64 KiB";
      return -1;
    }
  }
}

/* Wait for PID (killed first when KILL); its exit status in words into
 * WHY, or NULL when it exited with 0.
 */
static const char *
reap (pid_t pid, bool kill_it, char *why, size_t len)
{
  int status;

  if (kill_it)
    kill (pid, SIGKILL);
  while (waitpid (pid, &status, 0) == -1)
    if (errno != EINTR) {
      snprintf (why, len, "waitpid: %s", strerror (errno));
      return why;
    }
  if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
    return NULL;
  if (WIFEXITED (status))
    snprintf (why, len, "it exited with status %d", WEXITSTATUS (status));
  else
    snprintf (why, len, "it was killed by signal %d", WTERMSIG (status));
  return why;
}

static int
process_fetch (struct s3_creds_source *src, struct s3_creds_value **out)
{
  struct process_source *p = (struct process_source *) src;
  char *buf = malloc (OUTPUT_MAX + 1), why[64];
  const char *failed = NULL, *exit_why;
  ssize_t n = -1;
  int fd = -1, r = -1;
  pid_t pid;

  if (buf == NULL) {
    nbdkit_error ("s3: out of memory");
    return -1;
  }
  pid = start (p, &fd);
  if (pid == -1)
    goto out;
  n = read_all (fd, buf, &failed);
  close (fd);
  exit_why = reap (pid, n == -1, why, sizeof why);
  if (n == -1 || exit_why)
    nbdkit_error ("%s failed: %s: fix the command or the profile",
                  src->name, n == -1 ? failed : exit_why);
  else
    r = (*out = s3_creds_value_from_json (src->name, buf, n, true))
      ? 0 : -1;
 out:
  OPENSSL_cleanse (buf, OUTPUT_MAX + 1);
  free (buf);
  return r;
}

static void
process_free (struct s3_creds_source *src)
{
  struct process_source *p = (struct process_source *) src;

  free (p->command);
  free (p->src.name);
  free (p);
}

struct s3_creds_source *
s3_creds_process_new (const char *name, const char *command)
{
  struct process_source *p = calloc (1, sizeof *p);

  if (p == NULL || (p->command = strdup (command)) == NULL ||
      (p->src.name = strdup (name)) == NULL) {
    nbdkit_error ("s3: out of memory");
    if (p)
      process_free (&p->src);
    return NULL;
  }
  p->src.fetch = process_fetch;
  p->src.free = process_free;
  p->src.renewable = true;
  return &p->src;
}
