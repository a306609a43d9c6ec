/* SPDX-License-Identifier: MIT
 *
 * Scope-bound cleanup, after nbdkit's idiom: CLEANUP_FREE frees a pointer
 * when it leaves scope, ACQUIRE_LOCK_FOR_CURRENT_SCOPE holds a mutex until
 * the end of the enclosing block.  configure checks that the compiler
 * supports __attribute__((cleanup)).
 */

#ifndef NBDS3_CLEANUP_H
#define NBDS3_CLEANUP_H

#include <pthread.h>
#include <stdlib.h>

static inline void
cleanup_free (void *ptr)
{
  free (*(void **) ptr);
}
#define CLEANUP_FREE __attribute__ ((cleanup (cleanup_free)))

static inline void
cleanup_unlock (pthread_mutex_t **ptr)
{
  pthread_mutex_unlock (*ptr);
}

#define CONCAT_(a, b) a##b
#define CONCAT(a, b) CONCAT_ (a, b)
#define ACQUIRE_LOCK_FOR_CURRENT_SCOPE(mutex)                            \
  pthread_mutex_t *CONCAT (scoped_lock_, __LINE__)                       \
    __attribute__ ((cleanup (cleanup_unlock))) = (mutex);                \
  pthread_mutex_lock (CONCAT (scoped_lock_, __LINE__))

#endif /* NBDS3_CLEANUP_H */
