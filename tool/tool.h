/* SPDX-License-Identifier: MIT
 *
 * What every command of the nbds3 tool shares (tool/nbds3.c runs them):
 * the command table's entry, the parsed command line, and the helpers a
 * command needs to open the store from the plugin's keys, open an export
 * and read its metadata, take its single-writer guard, print values and
 * JSON, and report errors with the tool's exit statuses.
 *
 * The tool is at the plugin's level: it links the layers below and the
 * plugin's key parser (plugin/options.c, the global `config`), with its
 * own stand-ins for the nbdkit_* functions (tool-nbdkit.c).  Errors are
 * reported once, with nbdkit_error ("nbds3: error: ..."), where the
 * context is known; a function that reports returns the exit status.
 */

#ifndef NBDS3_TOOL_H
#define NBDS3_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "store.h"
#include "store-clone.h"

/* Exit statuses. */
#define TOOL_OK 0               /* success */
#define TOOL_PROBLEM 1          /* a problem found, a refusal, a failure */
#define TOOL_USAGE 2            /* the command line is wrong */

/* Options a command accepts besides --json and -v (struct tool_cmd). */
#define TOOL_OPT_SIZE 0x1       /* --size=SIZE */
#define TOOL_OPT_PAGE_SIZE 0x2  /* --page-size=SIZE */
#define TOOL_OPT_FORCE 0x4      /* --force */

/* The command line, parsed (tool/nbds3.c).  The key=value arguments have
 * been given to the plugin's parser (config_set, config_complete) before
 * a command runs: `config` holds them.  --size=SIZE and --page-size=SIZE
 * are the keys size= and page-size= (the size and page size of a new
 * export), parsed and checked as the server parses them: config.size
 * (config.size_given) and config.page_size.
 */
struct tool_args {
  bool json;                    /* --json: one JSON document on stdout */
  bool verbose;                 /* -v: nbdkit_debug messages on stderr */
  bool force;                   /* --force */
  const char *size;             /* --size=, or NULL */
  const char *page_size;        /* --page-size=, or NULL */
  char **pos;                   /* the positional arguments after the
                                 * command's name */
  int npos;
};

/* One command: tool/cmd-NAME.c defines `const struct tool_cmd
 * tool_cmd_NAME`, declared below and listed in tool/nbds3.c's table.
 */
struct tool_cmd {
  const char *name;
  const char *synopsis;         /* arguments, for usage: "EXPORT SIZE" */
  const char *summary;          /* one line */
  unsigned options;             /* TOOL_OPT_* it accepts */
  int min_args, max_args;       /* positional arguments */
  bool writes;                  /* it changes the store: the store must
                                 * be writable */
  bool creates;                 /* ... and may create the FS store's
                                 * directory */
  /* Run with ARGS.  Returns the exit status. */
  int (*run) (const struct tool_args *args);
};

extern const struct tool_cmd tool_cmd_list;
extern const struct tool_cmd tool_cmd_info;
extern const struct tool_cmd tool_cmd_create;
extern const struct tool_cmd tool_cmd_resize;
extern const struct tool_cmd tool_cmd_delete;
extern const struct tool_cmd tool_cmd_verify;
extern const struct tool_cmd tool_cmd_clone;
extern const struct tool_cmd tool_cmd_snapshot;

/* ---- The store (tool-store.c) ---- */

/* Before the command CMD runs. */
extern void tool_store_init (const struct tool_cmd *cmd);

/* The store `config` names, made at the first call: the S3 store
 * (bucket=) after its bucket probe, or the FS store (data-dir=, default
 * ./data), whose directory must exist unless the command creates, and be
 * writable if it writes.  NULL after nbdkit_error.
 */
extern struct store *tool_store (void);

/* The store, for messages: "data-dir=DIR" or "s3://BUCKET[/PREFIX]". */
extern const char *tool_store_where (void);

/* Free the store, once every export is closed (at exit). */
extern void tool_store_free (void);

/* Open export NAME of the store and read its metadata into META.  With
 * MUST_EXIST, an export without metadata is an error ("does not exist").
 * Returns TOOL_OK and *E, or the exit status after nbdkit_error (a name
 * that is not valid is a usage error).  *FOUND (may be NULL) says
 * whether the metadata exists.
 */
extern int tool_open_export (const char *name, bool must_exist,
                             struct store_export **e,
                             struct store_meta *meta, bool *found);

/* Take E's single-writer guard, as a server would before writing (FS:
 * the flock; S3: the lease), for command CMD.  TOOL_OK, or TOOL_PROBLEM
 * after nbdkit_error saying who holds it and what to do.
 * store_close_export releases it.
 */
extern int tool_claim (struct store_export *e, const char *cmd);

/* What an export holds, from one listing of its objects. */
struct tool_stored {
  uint64_t pages;               /* page-%08x.bin objects */
  uint64_t page_bytes;          /* their bytes */
  uint64_t tombstones;          /* page-%08x.zero objects */
  uint64_t objects;             /* everything listed */
  uint64_t bytes;               /* its bytes */
  char **clones;                /* NAME of every clones/NAME: the clones
                                 * whose base this export is, sorted */
  size_t nclones;
};

/* List E's objects into STORED; free it with tool_stored_free.  0, or
 * -1 after nbdkit_error.
 */
extern int tool_list_stored (struct store_export *e,
                             struct tool_stored *stored);
extern void tool_stored_free (struct tool_stored *stored);

/* The directory of clone back-references in a base, with its '/'. */
#define TOOL_CLONES_DIR STORE_CLONE_REF_DIR "/"

/* Who holds E's guard, for output: true and the holder in BUF, or false
 * ("free"; also when it cannot be told: reported, and *ERR set).
 */
extern bool tool_guard_held (struct store_export *e, char *buf, size_t len,
                             bool *err);

/* A growing array of names. */
struct tool_names {
  char **v;
  size_t n, cap;
};

/* Add a copy of NAME: 0, or -1 after nbdkit_error. */
extern int tool_names_add (struct tool_names *names, const char *name);
extern void tool_names_free (struct tool_names *names);

/* Call FN for every export of the store, by name in byte order.  0, or
 * -1 after nbdkit_error (FN's -1 stops it too).
 */
extern int tool_for_each_export (int (*fn) (void *opaque, const char *name),
                                 void *opaque);

/* ---- Output (tool-output.c) ---- */

/* SIZE as the shortest exact form the size keys accept ("2G", "64k",
 * "1000"), into BUF.  Returns BUF.
 */
#define TOOL_SIZE_MAX 24
extern char *tool_format_size (uint64_t size, char buf[TOOL_SIZE_MAX]);

/* Text for a terminal: the columns S takes (its UTF-8 characters, each
 * one column), and S printed on stdout padded with spaces to WIDTH
 * columns.
 */
extern size_t tool_text_width (const char *s);
extern void tool_print_padded (const char *s, size_t width);

/* A JSON writer for one document on stdout: objects and arrays nest
 * (up to TOOL_JSON_DEPTH), members are written with their key (KEY is
 * NULL for an array element or the document itself), commas and
 * indentation are the writer's.  Strings are escaped, and bytes that are
 * not UTF-8 become U+FFFD, so the output always parses.
 */
#define TOOL_JSON_DEPTH 16
struct tool_json {
  FILE *f;                      /* stdout */
  int depth;
  bool has_items[TOOL_JSON_DEPTH];      /* the open container at each
                                         * depth has a member already */
};

extern void tool_json_init (struct tool_json *j);
extern void tool_json_begin_object (struct tool_json *j, const char *key);
extern void tool_json_end_object (struct tool_json *j);
extern void tool_json_begin_array (struct tool_json *j, const char *key);
extern void tool_json_end_array (struct tool_json *j);
/* VALUE NULL is null. */
extern void tool_json_string (struct tool_json *j, const char *key,
                              const char *value);
extern void tool_json_u64 (struct tool_json *j, const char *key,
                           uint64_t value);
extern void tool_json_bool (struct tool_json *j, const char *key,
                            bool value);
/* End the document with a newline and flush: TOOL_OK, or TOOL_PROBLEM
 * after nbdkit_error if stdout failed (a full disk, a closed pipe).
 */
extern int tool_json_finish (struct tool_json *j);

/* Flush stdout: TOOL_OK, or TOOL_PROBLEM after nbdkit_error. */
extern int tool_flush_stdout (void);

/* ---- The nbdkit_* stand-ins (tool-nbdkit.c) ---- */

/* nbdkit_error prints "nbds3: error: MESSAGE" on stderr; nbdkit_debug
 * prints "nbds3: debug: MESSAGE" only once this is set (-v).
 */
extern void tool_nbdkit_set_verbose (bool verbose);

/* On the calling thread, from now until tool_nbdkit_capture (NULL, 0):
 * nbdkit_error keeps its message in BUF of LEN bytes (the last one
 * wins) instead of printing it, so that a command can put it in its
 * output (verify's pages).  BUF starts empty.
 */
extern void tool_nbdkit_capture (char *buf, size_t len);

/* ---- Errors (nbds3.c) ---- */

/* Report a mistake on the command line of command CMD (NULL: none yet)
 * and point at --help.  Returns TOOL_USAGE.
 */
extern int tool_usage_error (const char *cmd, const char *fs, ...)
  __attribute__ ((format (printf, 2, 3)));

#endif /* NBDS3_TOOL_H */
