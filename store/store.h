/* SPDX-License-Identifier: MIT
 *
 * The page store interface: one vtable, two implementations (store-fs.c,
 * store-s3.c), in the style of SQLite's sqlite3_io_methods.  A store keeps
 * the pages of named exports: fixed-size pages, named by a 32-bit index,
 * plus one small metadata record per export.  The page cache above it knows
 * nothing of files or HTTP; a store knows nothing of NBD.
 *
 * Every instance starts with its ops pointer (struct store) or its store
 * pointer (struct store_export), so an implementation embeds these as the
 * first member of its own structs.  All methods return -1 after reporting
 * the failure once with nbdkit_error, with errno set (EIO when nothing more
 * precise applies).  A page that was never written, or was deleted, "is not
 * stored": read_page returns 0 and the cache serves zeros.  New methods go
 * at the end of the struct.
 */

#ifndef NBDS3_STORE_H
#define NBDS3_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Layout shared by both stores (relative to the data directory or the
 * bucket): exports/<export>/nbds3.meta and exports/<export>/page-%08x.bin.
 */
#define STORE_EXPORTS_DIR "exports"
#define STORE_META_NAME "nbds3.meta"
/* FS: beside the flock, who holds it (host, pid, token, time). */
#define STORE_HOLDER_NAME "nbds3.holder"
#define STORE_PAGE_NAME_FMT "page-%08" PRIx32 ".bin"
#define STORE_PAGE_NAME_LEN 17      /* strlen ("page-00000000.bin") */

/* Export names: 1..200 bytes, no '/', no control characters, no leading
 * '.'.  The same rule for both stores.
 */
#define STORE_EXPORT_NAME_MAX 200

/* Format 2 adds checksums=required; format 1 (exports made before
 * checksums) is still read.  Format 3 adds base=, read-only= and
 * snapshot-of=; it is written only for an export that has one of them
 * (a clone or a snapshot), so that an older nbds3 refuses to serve it
 * rather than ignore its base.  An export with none keeps format 2.
 */
#define STORE_META_VERSION 3
#define STORE_META_VERSION_PLAIN 2
#define STORE_META_MAX 1024     /* bytes of metadata text, at most */

/* What nbds3.meta records about an export. */
struct store_meta {
  uint32_t version;             /* STORE_META_VERSION when written */
  uint64_t size;                /* export size in bytes */
  uint32_t page_size;           /* bytes per page, a power of two */
  bool checksums;               /* every page carries a checksum: one
                                 * without it is damaged */
  /* Format 3.  "" when absent. */
  char base[STORE_EXPORT_NAME_MAX + 1];  /* a clone's base: pages the
                                          * export does not hold read
                                          * from it */
  bool read_only;               /* a snapshot: never written */
  char snapshot_of[STORE_EXPORT_NAME_MAX + 1];  /* the export a snapshot
                                                 * was taken of */
};

/* A page's checksum, kept by the store beside the page (S3: user
 * metadata; FS: an extended attribute): the CRC-32C of the page index (4
 * bytes, little-endian) followed by the page's bytes, so that a page
 * served for another index fails too.  store_write_page computes it,
 * store_read_page checks it; the stores only keep it.
 */
struct store_checksum {
  bool present;                 /* false: a page stored without one */
  uint32_t crc32c;
};

struct store;
struct store_export;

struct store_ops {
  const char *name;             /* "fs" or "s3", for messages */

  /* Check, once at start-up (nbdkit's .get_ready), that the store can be
   * used: the FS store that its directory is writable, the S3 store that
   * bucket and credentials work.  0 or -1.
   */
  int (*ready) (struct store *s);

  /* Call FN once for each export that has metadata, in no particular
   * order.  FN returning -1 stops the listing and makes it return -1.
   * 0 or -1.
   */
  int (*list_exports) (struct store *s,
                       int (*fn) (void *opaque, const char *name),
                       void *opaque);

  /* Open the export NAME (already validated), for reading.  Creates
   * nothing (an export comes into being with write_meta) and takes no
   * guard (claim does).  Returns NULL on error.
   */
  struct store_export *(*open_export) (struct store *s, const char *name);

  /* Read the export's metadata.  1 if found (META filled in), 0 if the
   * export does not exist yet, -1 on error (including unparsable
   * metadata).
   */
  int (*read_meta) (struct store_export *e, struct store_meta *meta);

  /* Create the export by writing its metadata durably, after claim.
   * Called before the export's first page is written.  0 or -1.
   */
  int (*write_meta) (struct store_export *e, const struct store_meta *meta);

  /* Call FN once for each stored page index, in no particular order.  FN
   * returning -1 stops the listing.  0 or -1.
   */
  int (*list_pages) (struct store_export *e,
                     int (*fn) (void *opaque, uint32_t page), void *opaque);

  /* Read page PAGE into BUF, LEN bytes (the page size), and the checksum
   * stored with it into SUM.  Returns 1 if the page is stored, 0 if it is
   * not (BUF untouched), -1 on error.  A stored page whose length is not
   * LEN is an error, never zeros.  Safe to call from many threads at
   * once.
   */
  int (*read_page) (struct store_export *e, uint32_t page,
                    void *buf, size_t len, struct store_checksum *sum);

  /* Store LEN bytes of BUF as page PAGE, never torn (FS: temp file,
   * fsync, rename; S3: a PUT).  Durable once sync returns, or when it
   * returns for a store without sync (S3: an acknowledged PUT).  The cache
   * issues at most one mutation (write or delete) per page at a time;
   * different pages may be written concurrently.  0 or -1.  errno
   * EEXIST (S3 only; the FS store never returns it): the page is stored
   * although the store had it as absent (its listing, or a NoSuchKey, was
   * wrong) and an earlier writer of the export (nbds3) wrote it; nothing
   * was written.  The caller reads the page (read_page) and writes it
   * again with its own changes merged in.
   */
  int (*write_page) (struct store_export *e, uint32_t page,
                     const void *buf, size_t len,
                     const struct store_checksum *sum);

  /* Delete page PAGE (durable as for write_page).  Deleting a page that
   * is not stored succeeds.  Same concurrency rule as write_page.  0 or
   * -1.
   */
  int (*delete_page) (struct store_export *e, uint32_t page);

  /* Release the single-writer guard and free E.  Never fails. */
  void (*close_export) (struct store_export *e);

  /* Free the store.  Every export must be closed first. */
  void (*free) (struct store *s);

  /* Make every write_page and delete_page of E that has returned durable
   * (FS: fsync of the export directory, so a flush pays for it once, not
   * every page).  NULL when each mutation is durable on return.  0 or -1.
   */
  int (*sync) (struct store_export *e);

  /* Give up retrying: requests in flight and later ones fail at their next
   * retry decision (with ESHUTDOWN) instead of waiting.  Used at shutdown
   * once its deadline has passed.  Safe to call from any thread, more than
   * once.  May be NULL (the FS store never retries).
   */
  void (*cancel) (struct store *s);

  /* Take the single-writer guard of E before its first write (FS: the
   * directory's flock; S3: check that the server honours conditional
   * writes, then take the export's lease).  Called when a writable
   * connection opens an existing export, and before write_meta creates
   * one; read-only servers never call it.
   * More calls are no-ops.  0; 1 when the guard was taken again after
   * unclaim and the export may have changed meanwhile (the caller must
   * forget what it cached); or -1 (EBUSY: another server holds it;
   * EROFS: the store cannot be written safely).  Until it succeeds,
   * write_page and delete_page fail.  May be NULL (no guard).
   */
  int (*claim) (struct store_export *e);

  /* Release the guard claim took, when the export's last connection has
   * closed with nothing dirty; a later claim takes it again (and the
   * caller must then forget what it cached).  Returns true if a guard was
   * released.  NULL: the guard is kept until close_export (S3: the
   * lease).
   */
  bool (*unclaim) (struct store_export *e);

  /* Named objects: what an export holds besides its pages and metadata,
   * for the tool and snapshots (clone back-references "clones/<clone>",
   * snapshot requests), under the export's directory or key prefix.  A
   * NAME is relative to the export: one or two components, each a valid
   * export name or a store file name, split by one '/'.  None needs the
   * guard: they are how a process that does not hold it talks to the one
   * that does.  May be NULL.
   *
   * list_objects calls FN for everything stored under the export (pages,
   * metadata, lease, temporary files, named objects; FS: one level of
   * subdirectories), with its size in bytes, in no particular order.
   * 0 or -1.
   */
  int (*list_objects) (struct store_export *e,
                       int (*fn) (void *opaque, const char *name,
                                  uint64_t size),
                       void *opaque);

  /* Store LEN bytes of BUF as NAME, durably.  With EXCLUSIVE only if
   * NAME does not exist: else -1 with errno EEXIST, not reported.  FS:
   * the export's directory must exist (errno ENOENT, not reported,
   * otherwise).  0 or -1.
   */
  int (*put_object) (struct store_export *e, const char *name,
                     const void *buf, size_t len, bool exclusive);

  /* Read NAME into BUF of CAP bytes (a longer object is an error).  1 and
   * *LEN if found, 0 if not, -1 on error.
   */
  int (*get_object) (struct store_export *e, const char *name,
                     void *buf, size_t cap, size_t *len);

  /* Remove NAME, durably; one that is not stored is no error.  0 or -1. */
  int (*remove_object) (struct store_export *e, const char *name);

  /* Tombstones, for clones (store-chain.c): in an export with a base, a
   * page that a base holds but the clone trimmed or zeroed is marked by
   * a tombstone, an empty object or file named STORE_TOMBSTONE_NAME_FMT
   * beside the pages, and reads as zeros.  A page object of the same
   * index wins over its tombstone (a crash between the two mutations
   * leaves both); a tombstone wins over every base.  Tombstones are
   * mutations like write_page and delete_page: they need the guard (FS:
   * the flock; S3: the lease, checked before each request), are durable
   * as those are (FS: once sync returns), follow the same one mutation
   * per page rule, and never appear in list_pages.  May be NULL (a store
   * without clones).
   *
   * put_tombstone stores the tombstone of PAGE (storing it again is no
   * error).  0 or -1.
   */
  int (*put_tombstone) (struct store_export *e, uint32_t page);

  /* Remove the tombstone of PAGE; one not stored is no error.  0 or -1. */
  int (*remove_tombstone) (struct store_export *e, uint32_t page);

  /* Call FN once for each page index that has a tombstone, in no
   * particular order.  FN returning -1 stops the listing.  0 or -1.
   */
  int (*list_tombstones) (struct store_export *e,
                          int (*fn) (void *opaque, uint32_t page),
                          void *opaque);
  /* Snapshots (store-snap.c).  list_page_versions is list_pages with
   * each page's version: what copy_object needs to copy that version and
   * no other, and to tell it from another already in the snapshot (S3:
   * its ETag as listed; FS: its inode and modification time, which never
   * change once a page file is renamed into place: see the top of
   * store-fs.c).  NULL: the pages have no versions ("").
   */
  int (*list_page_versions) (struct store_export *e,
                             int (*fn) (void *opaque, uint32_t page,
                                        const char *version),
                             void *opaque);

  /* Copy the page or tombstone NAME of E ("page-%08x.bin" or
   * "page-%08x.zero"), of SIZE bytes, as it is in VERSION ("": as it is
   * now), to the same name in the export DST of the same store, without
   * its bytes passing through this process (FS: a hard link; S3:
   * CopyObject conditional on the source's ETag, then a HEAD of the copy:
   * its size and, for a page, its checksum).  Creates DST's directory if
   * needed and takes no guard.  Returns 1 when copied; 2 when the source
   * is no longer VERSION (changed or removed) or DST already holds NAME,
   * and DST holds it; 0 when neither the source in VERSION nor DST has
   * it; -1 on error.
   */
  int (*copy_object) (struct store_export *e, const char *name,
                      const char *version, uint64_t size,
                      struct store_export *dst);

  /* ---- For the nbds3 tool (tool/), which changes exports offline ----
   * May be NULL (the wrappers then fail with ENOTSUP after nbdkit_error,
   * but store_guard_holder returns 0: no guard).
   */

  /* Who holds E's single-writer guard, without taking it from anyone
   * (FS: a non-blocking try of the flock, released at once, and the
   * holder file beside the lock; S3: the lease object).  1 and a
   * description of the holder in BUF of LEN bytes ("HOST pid PID since
   * TIME"), 0 if nobody holds it (S3: a released lease), -1 on error.  A
   * guard this process holds counts as held.
   */
  int (*guard_holder) (struct store_export *e, char *buf, size_t len);

  /* Replace the metadata of the existing export E with META, durably,
   * after claim (the guard protects it: a server holding the export
   * cannot see it change).  -1 with errno ENOENT after nbdkit_error if E
   * has none.  0 or -1.
   */
  int (*replace_meta) (struct store_export *e, const struct store_meta *meta);

  /* Remove the N objects NAMES of E (names as list_objects reports them),
   * durably, after claim; one that is not stored is no error.  S3: in
   * batches (DeleteObjects) where the server has it, else one DELETE
   * each; FS: unlink each, then one fsync of every directory that
   * changed.  0, or -1 at the first failure.
   */
  int (*remove_objects) (struct store_export *e, const char *const *names,
                         size_t n);

  /* Remove what is left of E once remove_objects has removed everything
   * else: its metadata first, so that an interrupted removal leaves an
   * export that still lists, then its guard (S3: the lease object is
   * deleted, not released; FS: the holder file, the empty subdirectories
   * and the directory itself).  After claim; close_export must still be
   * called.  0 or -1 (FS: ENOTEMPTY when something was added meanwhile).
   */
  int (*remove_export) (struct store_export *e);

  /* May this process still write E under its guard, now?  0; or -1
   * after nbdkit_error (errno EIO) when it holds none or lost it (S3: a
   * lease that could not be renewed in time, or that another server
   * took).  No I/O.  For the snapshot holder, which must not answer
   * for an export it no longer holds.  NULL: 0 once claimed.
   */
  int (*check_guard) (struct store_export *e);
};

struct store {
  const struct store_ops *ops;
};

struct store_export {
  struct store *store;
  /* Set by the wrappers: the name (for traces), and whether the export's
   * metadata requires checksums (store_read_meta / store_write_meta).
   */
  char *name;
  bool checksums_required;
  /* The snapshot state of an export this process holds (store-snap.c),
   * or NULL.
   */
  struct store_snap *snap;
};

/* Call wrappers, in the style of SQLite's os.c: callers use these, never
 * the vtable.  Each calls the method of the same name as its contract
 * above says, and is the one place that traces every store request
 * (-D nbds3.store=1: method, export, page, result, errno, time).
 * store_sync is 0 for a store without sync; store_cancel does nothing
 * for one without cancel.  store_write_page stores the page's checksum
 * with it; store_read_page verifies it and fails with EIO, naming the
 * page, when it does not match, or when the export requires checksums
 * and the page has none: damaged data is never served.
 */
extern const char *store_name (const struct store *s);
extern int store_ready (struct store *s);
extern int store_list_exports (struct store *s,
                               int (*fn) (void *opaque, const char *name),
                               void *opaque);
extern struct store_export *store_open_export (struct store *s,
                                               const char *name);
extern int store_read_meta (struct store_export *e, struct store_meta *meta);
extern int store_write_meta (struct store_export *e,
                             const struct store_meta *meta);
extern int store_list_pages (struct store_export *e,
                             int (*fn) (void *opaque, uint32_t page),
                             void *opaque);
extern int store_read_page (struct store_export *e, uint32_t page,
                            void *buf, size_t len);
extern int store_write_page (struct store_export *e, uint32_t page,
                             const void *buf, size_t len);
extern int store_delete_page (struct store_export *e, uint32_t page);
extern bool store_has_sync (const struct store_export *e);
extern int store_sync (struct store_export *e);
extern void store_close_export (struct store_export *e);
extern void store_cancel (struct store *s);
extern int store_claim (struct store_export *e);
extern bool store_unclaim (struct store_export *e);
extern void store_free (struct store *s);
/* The named objects (ENOTSUP after nbdkit_error for a store without
 * them).
 */
extern int store_list_objects (struct store_export *e,
                               int (*fn) (void *opaque, const char *name,
                                          uint64_t size),
                               void *opaque);
extern int store_put_object (struct store_export *e, const char *name,
                             const void *buf, size_t len, bool exclusive);
extern int store_get_object (struct store_export *e, const char *name,
                             void *buf, size_t cap, size_t *len);
extern int store_remove_object (struct store_export *e, const char *name);
/* The tool's methods. */
extern int store_guard_holder (struct store_export *e, char *buf, size_t len);
extern int store_replace_meta (struct store_export *e,
                               const struct store_meta *meta);
extern int store_remove_objects (struct store_export *e,
                                 const char *const *names, size_t n);
extern int store_remove_export (struct store_export *e);
extern int store_check_guard (struct store_export *e);
/* The tombstones (ENOTSUP after nbdkit_error for a store without
 * them).
 */
extern int store_put_tombstone (struct store_export *e, uint32_t page);
extern int store_remove_tombstone (struct store_export *e, uint32_t page);
extern int store_list_tombstones (struct store_export *e,
                                  int (*fn) (void *opaque, uint32_t page),
                                  void *opaque);
/* Snapshots (ENOTSUP after nbdkit_error for a store without
 * copy_object).
 */
extern int store_list_page_versions (struct store_export *e,
                                     int (*fn) (void *opaque, uint32_t page,
                                                const char *version),
                                     void *opaque);
extern int store_copy_object (struct store_export *e, const char *name,
                              const char *version, uint64_t size,
                              struct store_export *dst);

/* Constructors.  Each reports its own errors and returns NULL on failure.
 * The S3 store's constructor is in store-s3.h.
 */
/* The FS store keeps at most this many page files open for reading
 * (store-fs-fdcache.c), besides one directory per open export.
 */
#define STORE_FS_CACHED_FDS 32
extern struct store *store_fs_new (const char *data_dir);

/* Helpers shared by both stores (store.c). */

/* true if NAME is a valid export name (see above). */
extern bool store_export_name_valid (const char *name);

/* Format META as text into BUF (STORE_META_MAX bytes), as format
 * META->version, or 3 if it is lower and META has a format 3 field.
 * Returns the length.
 */
extern size_t store_meta_format (const struct store_meta *meta, char *buf);

/* Parse metadata TEXT of LEN bytes (not NUL-terminated) into META.  0, or
 * -1 with nbdkit_error naming WHERE (a path or object key).
 */
extern int store_meta_parse (const char *text, size_t len,
                             struct store_meta *meta, const char *where);

/* A checksum as stores keep it: 8 lower-case hex digits.  Format writes
 * them and a NUL into TEXT; parse reads LEN bytes of TEXT (not
 * NUL-terminated) into SUM and returns false if they are not that.
 */
#define STORE_CHECKSUM_TEXT_LEN 8
extern void store_checksum_format (const struct store_checksum *sum,
                                   char text[STORE_CHECKSUM_TEXT_LEN + 1]);
extern bool store_checksum_parse (const char *text, size_t len,
                                  struct store_checksum *sum);

/* true if NAME is a valid named object name (see list_objects). */
extern bool store_object_name_valid (const char *name);

/* Parse a page object or file name "page-%08x.bin".  Returns true and sets
 * *PAGE if NAME is exactly such a name.
 */
extern bool store_page_name_parse (const char *name, uint32_t *page);

/* The tombstone of a page in a clone (see put_tombstone): an empty
 * object or file "page-%08x.zero" in the clone's own export.  Parse
 * returns true and sets *PAGE if NAME is exactly such a name.
 */
#define STORE_TOMBSTONE_NAME_FMT "page-%08" PRIx32 ".zero"
#define STORE_TOMBSTONE_NAME_LEN 18 /* strlen ("page-00000000.zero") */
extern bool store_tombstone_name_parse (const char *name, uint32_t *page);

#endif /* NBDS3_STORE_H */
