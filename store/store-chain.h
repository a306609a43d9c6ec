/* SPDX-License-Identifier: MIT
 *
 * A clone's chain of exports presented as one store export
 * (store-chain.c): the clone on top, writable, and its bases below it,
 * read-only snapshots, each read from where its clone holds no page.
 */

#ifndef NBDS3_STORE_CHAIN_H
#define NBDS3_STORE_CHAIN_H

#include "store.h"

/* Layers in a chain at most, the clone on top included. */
#define STORE_CHAIN_MAX 16

/* Open the chain of the clone TOP, an export of S whose metadata META
 * (read with store_read_meta) names a base: open every base down the
 * chain (never claimed), check that each exists, is read-only (a
 * snapshot) and has META's page size, that the chain has no loop and at
 * most STORE_CHAIN_MAX layers, and list every layer's pages and
 * tombstones once.  Returns an export to use instead of TOP: its methods
 * act on the whole chain (store-chain.c says how), and closing it closes
 * every layer, TOP too.  NULL after nbdkit_error; TOP is then still the
 * caller's.
 */
extern struct store_export *store_chain_open (struct store *s,
                                              struct store_export *top,
                                              const struct store_meta *meta);

#endif /* NBDS3_STORE_CHAIN_H */
