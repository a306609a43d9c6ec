/* SPDX-License-Identifier: MIT
 *
 * The monotonic clock and condition variables that wait on it: every
 * deadline in nbds3 is CLOCK_MONOTONIC nanoseconds, so a change of the
 * wall clock moves none of them.
 */

#ifndef NBDS3_CLOCK_H
#define NBDS3_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#define NS_PER_SEC INT64_C (1000000000)
#define NS_PER_MS INT64_C (1000000)

/* Now, in monotonic nanoseconds. */
extern int64_t clock_now_ns (void);

/* Initialise COND to time its waits on the monotonic clock.  0 or an
 * errno.
 */
extern int clock_cond_init (pthread_cond_t *cond);

/* Wait on COND with LOCK held until signalled or DEADLINE (monotonic ns;
 * 0 = none).  Returns ETIMEDOUT once the deadline has passed, else what
 * pthread_cond_(timed)wait returns.
 */
extern int clock_cond_wait (pthread_cond_t *cond, pthread_mutex_t *lock,
                            int64_t deadline);

#endif /* NBDS3_CLOCK_H */
