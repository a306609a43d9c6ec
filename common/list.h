/* SPDX-License-Identifier: MIT
 *
 * A minimal intrusive doubly linked list.  A node that is in no list
 * points to itself, so list_empty on a node asks "is it linked?" and
 * list_del of an unlinked node is harmless.
 */

#ifndef NBDS3_LIST_H
#define NBDS3_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct list {
  struct list *prev, *next;
};

#define list_entry(node, type, member) \
  ((type *) ((char *) (node) - offsetof (type, member)))

#define list_for_each(node, head) \
  for ((node) = (head)->next; (node) != (head); (node) = (node)->next)

static inline void
list_init (struct list *l)
{
  l->prev = l->next = l;
}

static inline bool
list_empty (const struct list *l)
{
  return l->next == l;
}

static inline void
list_add_tail (struct list *head, struct list *node)
{
  node->prev = head->prev;
  node->next = head;
  head->prev->next = node;
  head->prev = node;
}

static inline void
list_del (struct list *node)
{
  node->prev->next = node->next;
  node->next->prev = node->prev;
  list_init (node);
}

#endif /* NBDS3_LIST_H */
