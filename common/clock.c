/* SPDX-License-Identifier: MIT
 *
 * The monotonic clock of clock.h.
 */

#include <config.h>

#include <errno.h>

#include "clock.h"

int64_t
clock_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

int
clock_cond_init (pthread_cond_t *cond)
{
  pthread_condattr_t attr;
  int r;

  pthread_condattr_init (&attr);
  pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
  r = pthread_cond_init (cond, &attr);
  pthread_condattr_destroy (&attr);
  return r;
}

int
clock_cond_wait (pthread_cond_t *cond, pthread_mutex_t *lock,
                 int64_t deadline)
{
  struct timespec ts;

  if (deadline == 0)
    return pthread_cond_wait (cond, lock);
  if (clock_now_ns () >= deadline)
    return ETIMEDOUT;
  ts.tv_sec = deadline / NS_PER_SEC;
  ts.tv_nsec = deadline % NS_PER_SEC;
  return pthread_cond_timedwait (cond, lock, &ts);
}
