/* SPDX-License-Identifier: MIT
 *
 * delay-proxy: a TCP proxy on 127.0.0.1 that adds a fixed delay before
 * every HTTP response, so that the benchmark can show what a real S3's
 * round trip (tens of milliseconds) does to each target.
 *
 *   delay-proxy UPSTREAM_PORT DELAY_MS PORT_FILE
 *
 * It listens on a free loopback port (written to PORT_FILE once it
 * listens) and forwards every byte unchanged in both directions to
 * 127.0.0.1:UPSTREAM_PORT -- the Host header and so the SigV4 signature
 * stay valid, and connections stay alive as long as the client keeps them.
 * Each accepted connection gets one upstream connection and two threads.
 * The request side marks the connection "request pending" whenever it
 * forwards bytes; the response side, when it reads bytes from upstream
 * while a request is pending, sleeps DELAY_MS first and clears the mark.
 * HTTP/1.1 clients that do not pipeline (libcurl, botocore) therefore get
 * exactly one delay per response, added to the server's own time.  An
 * interim "100 Continue" counts as a response, as it does on a real
 * network.  It runs until killed.  Built by bench/run.sh, and by
 * make check (check_PROGRAMS) for tests/test-client-death.sh.
 */

#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE (256 * 1024)

static struct sockaddr_in upstream;
static struct timespec delay;

struct conn {
  int client_fd, upstream_fd;
  atomic_bool request_pending;
  atomic_int refs;              /* the two threads; the last one frees */
};

static void
conn_put (struct conn *c)
{
  if (atomic_fetch_sub (&c->refs, 1) == 1) {
    close (c->client_fd);
    close (c->upstream_fd);
    free (c);
  }
}

/* Write all of BUF; false on error. */
static bool
write_all (int fd, const char *buf, size_t n)
{
  while (n > 0) {
    ssize_t r = write (fd, buf, n);

    if (r < 0) {
      if (errno == EINTR)
        continue;
      return false;
    }
    buf += r;
    n -= r;
  }
  return true;
}

static void
sleep_delay (void)
{
  struct timespec left = delay;

  while (nanosleep (&left, &left) == -1 && errno == EINTR)
    ;
}

/* Copy FROM to TO until EOF or an error; then half-close TO so the peer
 * sees the end too.  TO_CLIENT selects the delaying direction.
 */
static void
pump (struct conn *c, int from, int to, bool to_client)
{
  char *buf = malloc (BUF_SIZE);
  ssize_t n;

  if (buf == NULL)
    goto out;
  for (;;) {
    n = read (from, buf, BUF_SIZE);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    if (to_client) {
      if (atomic_exchange (&c->request_pending, false))
        sleep_delay ();
    }
    else
      atomic_store (&c->request_pending, true);
    if (!write_all (to, buf, n))
      break;
  }
 out:
  free (buf);
  shutdown (to, SHUT_WR);
  shutdown (from, SHUT_RD);
}

static void *
client_to_upstream (void *arg)
{
  struct conn *c = arg;

  pump (c, c->client_fd, c->upstream_fd, false);
  conn_put (c);
  return NULL;
}

static void *
upstream_to_client (void *arg)
{
  struct conn *c = arg;

  pump (c, c->upstream_fd, c->client_fd, true);
  conn_put (c);
  return NULL;
}

static void
set_nodelay (int fd)
{
  int one = 1;

  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int
main (int argc, char *argv[])
{
  struct sockaddr_in addr = { .sin_family = AF_INET };
  socklen_t len = sizeof addr;
  pthread_attr_t attr;
  int lfd, one = 1;
  long ms;
  FILE *fp;

  if (argc != 4) {
    fprintf (stderr, "usage: delay-proxy UPSTREAM_PORT DELAY_MS PORT_FILE\n");
    return 2;
  }
  upstream.sin_family = AF_INET;
  upstream.sin_port = htons (atoi (argv[1]));
  upstream.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  ms = atol (argv[2]);
  delay.tv_sec = ms / 1000;
  delay.tv_nsec = (ms % 1000) * 1000000;
  signal (SIGPIPE, SIG_IGN);

  lfd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lfd < 0) {
    perror ("delay-proxy: socket");
    return 1;
  }
  setsockopt (lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (bind (lfd, (struct sockaddr *) &addr, sizeof addr) < 0 ||
      listen (lfd, 128) < 0 ||
      getsockname (lfd, (struct sockaddr *) &addr, &len) < 0) {
    perror ("delay-proxy: bind/listen");
    return 1;
  }
  fp = fopen (argv[3], "w");
  if (fp == NULL || fprintf (fp, "%d\n", ntohs (addr.sin_port)) < 0 ||
      fclose (fp) != 0) {
    perror (argv[3]);
    return 1;
  }

  pthread_attr_init (&attr);
  pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize (&attr, 256 * 1024);
  for (;;) {
    struct conn *c;
    pthread_t t;
    int cfd, ufd;

    cfd = accept4 (lfd, NULL, NULL, SOCK_CLOEXEC);
    if (cfd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
        continue;
      perror ("delay-proxy: accept");
      return 1;
    }
    ufd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (ufd < 0 ||
        connect (ufd, (struct sockaddr *) &upstream, sizeof upstream) < 0) {
      perror ("delay-proxy: connect upstream");
      if (ufd >= 0)
        close (ufd);
      close (cfd);
      continue;
    }
    set_nodelay (cfd);
    set_nodelay (ufd);
    c = calloc (1, sizeof *c);
    if (c == NULL) {
      close (cfd);
      close (ufd);
      continue;
    }
    c->client_fd = cfd;
    c->upstream_fd = ufd;
    atomic_init (&c->request_pending, false);
    atomic_init (&c->refs, 2);
    if (pthread_create (&t, &attr, client_to_upstream, c) != 0) {
      close (cfd);
      close (ufd);
      free (c);
      continue;
    }
    if (pthread_create (&t, &attr, upstream_to_client, c) != 0) {
      /* The first thread holds a reference; end it by closing input. */
      shutdown (cfd, SHUT_RDWR);
      conn_put (c);
    }
  }
}
