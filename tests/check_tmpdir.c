/* SPDX-License-Identifier: MIT
 *
 * Temporary directories of the unit tests (check_tmpdir.h): paths in
 * them and their removal.
 */

#include <config.h>

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "check_tmpdir.h"

const char *
check_path (const char *dir, const char *rel)
{
  static char buf[512];

  snprintf (buf, sizeof buf, "%s/%s", dir, rel);
  return buf;
}

void
check_remove_tree (const char *dir)
{
  DIR *d = opendir (dir);
  struct dirent *ent;

  if (d == NULL)
    return;
  while ((ent = readdir (d)) != NULL) {
    char sub[1024];

    if (strcmp (ent->d_name, ".") == 0 || strcmp (ent->d_name, "..") == 0)
      continue;
    snprintf (sub, sizeof sub, "%s/%s", dir, ent->d_name);
    if (ent->d_type == DT_DIR)
      check_remove_tree (sub);
    else
      ck_assert_int_eq (unlink (sub), 0);
  }
  closedir (d);
  ck_assert_int_eq (rmdir (dir), 0);
}
