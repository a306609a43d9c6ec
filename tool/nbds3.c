/* SPDX-License-Identifier: MIT
 *
 * nbds3(1): the command-line tool for the exports of an nbds3 store,
 * without a running nbdkit.  This file owns the command line and the
 * command table: it splits the arguments into options (--json, -v and
 * those a command accepts), key=value arguments (the plugin's keys, given
 * to plugin/options.c's parser as nbdkit would give them) and positional
 * arguments, then runs the command.  Each command lives in its own
 * tool/cmd-NAME.c and is one line of the table below.
 *
 * An argument is a key when it has a '=' and does not start with '-'; an
 * export name that has a '=' goes after "--", which ends the options and
 * keys.  Exit statuses: tool.h.
 */

#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-plugin.h>

#include "debug.h"
#include "options.h"
#include "tool.h"

/* The commands, in the order usage lists them: one line each. */
static const struct tool_cmd *const commands[] = {
  &tool_cmd_list,
  &tool_cmd_info,
  &tool_cmd_create,
  &tool_cmd_resize,
  &tool_cmd_delete,
  &tool_cmd_verify,
  &tool_cmd_clone,
  &tool_cmd_snapshot,
};
#define NR_COMMANDS (sizeof commands / sizeof commands[0])

/* Options with a value, and the TOOL_OPT_* each is. */
static const struct {
  const char *name;             /* "--size" */
  unsigned opt;
} value_options[] = {
  { "--size", TOOL_OPT_SIZE },
  { "--page-size", TOOL_OPT_PAGE_SIZE },
};

static void
usage (FILE *f)
{
  fprintf (f,
           "Usage: nbds3 [--json] [-v] COMMAND [ARGUMENTS] [KEY=VALUE...]\n"
           "\n"
           "Manage the exports of an nbds3 store without a running nbdkit.\n"
           "The store is given by the plugin's keys: data-dir=DIR (the\n"
           "filesystem store, default ./data) or bucket=BUCKET with\n"
           "endpoint=, region=, prefix=, access-key=, secret-key=+FILE ...\n"
           "(the S3 store).  See nbds3(1).\n"
           "\n"
           "Commands:\n");
  for (size_t i = 0; i < NR_COMMANDS; ++i) {
    char head[64];

    snprintf (head, sizeof head, "%s %s", commands[i]->name,
              commands[i]->synopsis);
    fprintf (f, "  %-40s %s\n", head, commands[i]->summary);
  }
  fprintf (f,
           "\n"
           "Options:\n"
           "  --json      Print one JSON document on standard output.\n"
           "  -v          Print debug messages on standard error.\n"
           "  -Dnbds3.store=1, -Dnbds3.s3=1\n"
           "              With -v: trace every store or S3 request.\n"
           "  --help      Print this help.\n"
           "  --version   Print the version.\n"
           "\n"
           "Exit status: 0 success, 1 a problem found or a refusal, "
           "2 a usage error.\n");
}

int
tool_usage_error (const char *cmd, const char *fs, ...)
{
  va_list args;

  va_start (args, fs);
  nbdkit_verror (fs, args);
  va_end (args);
  if (cmd)
    fprintf (stderr, "Try 'nbds3 --help' (usage of %s) or man nbds3.\n",
             cmd);
  else
    fprintf (stderr, "Try 'nbds3 --help' or man nbds3.\n");
  return TOOL_USAGE;
}

static const struct tool_cmd *
find_command (const char *name)
{
  for (size_t i = 0; i < NR_COMMANDS; ++i)
    if (strcmp (commands[i]->name, name) == 0)
      return commands[i];
  return NULL;
}

/* The name of the option OPT, for messages. */
static const char *
option_name (unsigned opt)
{
  for (size_t i = 0; i < sizeof value_options / sizeof value_options[0]; ++i)
    if (value_options[i].opt == opt)
      return value_options[i].name;
  return "--force";
}

/* The debug flags of debug.h, as nbdkit's -D sets them. */
static const struct {
  const char *name;
  int *flag;
} debug_flags[] = {
  { "nbds3.store", &nbds3_debug_store },
  { "nbds3.s3", &nbds3_debug_s3 },
  { "nbds3.cache", &nbds3_debug_cache },
  { "nbds3.stats", &nbds3_debug_stats },
};

/* -Dnbds3.AREA=N: 0, or TOOL_USAGE after the message. */
static int
set_debug_flag (const char *arg)
{
  const char *eq = arg ? strchr (arg, '=') : NULL;

  for (size_t i = 0; eq && i < sizeof debug_flags / sizeof debug_flags[0];
       ++i)
    if (strncmp (arg, debug_flags[i].name, eq - arg) == 0 &&
        debug_flags[i].name[eq - arg] == '\0') {
      *debug_flags[i].flag = atoi (eq + 1);
      return 0;
    }
  return tool_usage_error (NULL, "-D%s: use -Dnbds3.store=1 (every store "
                           "request) or -Dnbds3.s3=1 (every S3 request), "
                           "with -v", arg ? arg : "");
}

/* Parse option ARG (it starts with '-') into ARGS, and the TOOL_OPT_*
 * it is into *GIVEN.  0, -1 for --help or --version (printed), or
 * TOOL_USAGE after the message.
 */
static int
parse_option (const char *arg, struct tool_args *args, unsigned *given)
{
  if (strcmp (arg, "--json") == 0)
    args->json = true;
  else if (strcmp (arg, "-v") == 0 || strcmp (arg, "--verbose") == 0)
    args->verbose = true;
  else if (strncmp (arg, "-D", 2) == 0)
    return set_debug_flag (arg[2] ? arg + 2 : NULL);
  else if (strcmp (arg, "--force") == 0) {
    args->force = true;
    *given |= TOOL_OPT_FORCE;
  }
  else if (strcmp (arg, "--help") == 0 || strcmp (arg, "-h") == 0) {
    usage (stdout);
    return -1;
  }
  else if (strcmp (arg, "--version") == 0 || strcmp (arg, "-V") == 0) {
    printf ("nbds3 %s\n", PACKAGE_VERSION);
    return -1;
  }
  else {
    for (size_t i = 0; i < sizeof value_options / sizeof value_options[0];
         ++i) {
      size_t n = strlen (value_options[i].name);

      if (strncmp (arg, value_options[i].name, n) != 0)
        continue;
      if (arg[n] != '=' || arg[n + 1] == '\0')
        return tool_usage_error (NULL, "%s needs a value: %s=VALUE",
                                 value_options[i].name,
                                 value_options[i].name);
      if (value_options[i].opt == TOOL_OPT_SIZE)
        args->size = arg + n + 1;
      else
        args->page_size = arg + n + 1;
      *given |= value_options[i].opt;
      return 0;
    }
    return tool_usage_error (NULL, "unknown option '%s'", arg);
  }
  return 0;
}

/* Split ARGV into options, keys (given to config_set at once, in their
 * order) and positional arguments (into ARGS->pos, allocated, the
 * command's name first).  0, -1 when --help or --version was printed, or
 * the exit status after the message.
 */
static int
parse_command_line (int argc, char **argv, struct tool_args *args,
                    unsigned *given)
{
  bool rest = false;            /* after "--" */

  args->pos = calloc (argc, sizeof *args->pos);
  if (args->pos == NULL) {
    nbdkit_error ("out of memory");
    return TOOL_PROBLEM;
  }
  for (int i = 1; i < argc; ++i) {
    char *arg = argv[i], *eq;
    int r;

    if (!rest && strcmp (arg, "--") == 0)
      rest = true;
    else if (!rest && strcmp (arg, "-D") == 0) {   /* -D nbds3.AREA=N */
      if ((r = set_debug_flag (i + 1 < argc ? argv[++i] : NULL)) != 0)
        return r;
    }
    else if (!rest && arg[0] == '-' && arg[1] != '\0') {
      if ((r = parse_option (arg, args, given)) != 0)
        return r;
    }
    else if (!rest && (eq = strchr (arg, '=')) != NULL && eq > arg) {
      *eq = '\0';
      r = config_set (arg, eq + 1);
      *eq = '=';
      if (r == -1)
        return TOOL_USAGE;      /* the parser said why */
    }
    else
      args->pos[args->npos++] = arg;
  }
  return 0;
}

/* Check what was given against what CMD accepts. */
static int
check_command_line (const struct tool_cmd *cmd, const struct tool_args *args,
                    unsigned given)
{
  unsigned extra = given & ~cmd->options;

  if (extra) {
    for (unsigned opt = 1; opt <= TOOL_OPT_FORCE; opt <<= 1)
      if (extra & opt)
        return tool_usage_error (cmd->name, "%s does not take %s",
                                 cmd->name, option_name (opt));
  }
  if (args->npos < cmd->min_args)
    return tool_usage_error (cmd->name, "%s needs %s: nbds3 %s %s",
                             cmd->name, cmd->min_args == 1
                             ? "an argument" : "more arguments",
                             cmd->name, cmd->synopsis);
  if (args->npos > cmd->max_args)
    return tool_usage_error (cmd->name, "%s: too many arguments ('%s' is "
                             "one too many): nbds3 %s%s%s", cmd->name,
                             args->pos[cmd->max_args], cmd->name,
                             cmd->synopsis[0] ? " " : "", cmd->synopsis);
  return 0;
}

int
main (int argc, char **argv)
{
  struct tool_args args = { .json = false };
  const struct tool_cmd *cmd = NULL;
  char **pos = NULL;
  unsigned given = 0;
  int r;

  r = parse_command_line (argc, argv, &args, &given);
  pos = args.pos;
  if (r == -1) {                /* --help or --version */
    r = TOOL_OK;
    goto out;
  }
  if (r != 0)
    goto out;
  tool_nbdkit_set_verbose (args.verbose);
  if (args.npos == 0) {
    r = tool_usage_error (NULL, "no command given");
    goto out;
  }
  cmd = find_command (args.pos[0]);
  if (cmd == NULL) {
    r = tool_usage_error (NULL, "unknown command '%s'", args.pos[0]);
    goto out;
  }
  args.pos++;
  args.npos--;
  if ((r = check_command_line (cmd, &args, given)) != 0)
    goto out;
  if ((args.size && config_set ("size", args.size) == -1) ||
      (args.page_size && config_set ("page-size", args.page_size) == -1) ||
      config_complete () == -1) {
    r = TOOL_USAGE;             /* the parser said why */
    goto out;
  }
  tool_store_init (cmd);
  r = cmd->run (&args);
  tool_store_free ();
  if (r == TOOL_OK)
    r = tool_flush_stdout ();

 out:
  free (pos);
  config_free ();
  return r;
}
