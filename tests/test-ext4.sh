#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The ext4 round trip: the export as a file through nbdfuse, a loop device
# on it, mkfs.ext4, mount, write files, umount; stop everything, start the
# server again, mount again, read the files back, and e2fsck -fn is clean.
# Needs root, /dev/fuse and loop devices (no nbd kernel module needed).
# These are required: missing ones fail the test.

source "$(dirname "$0")/functions.sh"
require_tools nbdfuse fusermount3 losetup mkfs.ext4 e2fsck mount umount

[ "$(id -u)" = 0 ] || fail "test-ext4 must run as root (mount, losetup)"
[ -c /dev/fuse ] || fail "/dev/fuse is missing"
[ -e /dev/loop-control ] ||
  fail "/dev/loop-control is missing (no loop devices)"

fusedir="$tmpdir/fuse"
mnt="$tmpdir/mnt"
mkdir -p "$fusedir" "$mnt"
loopdev=

# is_mounted PATH: from the mount table (mountpoint(1) says no for a FUSE
# mount whose daemon has died).
is_mounted ()
{
  awk -v m="$1" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo
}

# abort_fuse: abort our FUSE connection, failing every request it has
# pending.  This is what unblocks a kernel thread (mount, sync, the loop
# worker) stuck waiting on a server that never answers.
abort_fuse ()
{
  local dev
  dev="$(awk -v m="$fusedir" '$5 == m { print $3 }' /proc/self/mountinfo)"
  [ -n "$dev" ] || return 0
  if ! is_mounted /sys/fs/fuse/connections; then
    mount -t fusectl none /sys/fs/fuse/connections 2>/dev/null || :
  fi
  echo "$test_name: aborting FUSE connection ${dev#*:}" >&2
  echo 1 >"/sys/fs/fuse/connections/${dev#*:}/abort" 2>/dev/null || :
}

# guarded SECS CMD...: run CMD and return its status; if it has not
# finished after SECS (stuck in the kernel on a hung server), abort the
# FUSE connection, which fails the pending requests and so unblocks it,
# and fail the test.
guarded ()
{
  local secs="$1" pid rc=0
  shift
  "$@" &
  pid=$!
  if ! wait_for "$secs" _pid_gone "$pid"; then
    abort_fuse
    wait "$pid" || :
    fail "hung for ${secs}s, FUSE connection aborted: $*"
  fi
  wait "$pid" || rc=$?
  return "$rc"
}

# Stop everything in reverse order, tolerant of half-done states.
undo_all ()
{
  local d
  if is_mounted "$mnt"; then
    umount "$mnt" 2>/dev/null &
    wait_for 30 _pid_gone $! || abort_fuse
    wait $! 2>/dev/null || umount -l "$mnt"
  fi
  for d in $loopdev $(losetup -j "$fusedir/disk" -n -O NAME 2>/dev/null); do
    losetup -d "$d" 2>/dev/null
  done
  loopdev=
  if is_mounted "$fusedir"; then
    fusermount3 -u "$fusedir" 2>/dev/null || {
      abort_fuse
      fusermount3 -u -z "$fusedir"
    }
  fi
  if [ -s "$tmpdir/nbdfuse.pid" ]; then
    wait_for 20 _pid_gone "$(cat "$tmpdir/nbdfuse.pid")" ||
      kill -KILL "$(cat "$tmpdir/nbdfuse.pid")" 2>/dev/null
  fi
  return 0
}
on_cleanup undo_all

# attach: nbdfuse + loop device for export "ext4"; sets loopdev.
attach ()
{
  rm -f "$tmpdir/nbdfuse.pid"
  setsid -f nbdfuse -P "$tmpdir/nbdfuse.pid" "$fusedir/disk" "$(uri ext4)" \
    </dev/null >>"$tmpdir/nbdfuse.log" 2>&1
  wait_for 30 test -s "$tmpdir/nbdfuse.pid" || {
    cat "$tmpdir/nbdfuse.log" >&2
    fail "nbdfuse did not start"
  }
  is_mounted "$fusedir" || fail "nbdfuse is running but $fusedir is not mounted"
  size="$(stat -c %s "$fusedir/disk")"
  [ "$size" = $((256 * MiB)) ] || fail "FUSE file has size $size"
  loopdev="$(losetup -f --show "$fusedir/disk")" ||
    fail "losetup failed on the FUSE file"
  info "export ext4 is $fusedir/disk on $loopdev"
}

# detach: umount (if mounted), detach the loop device, unmount FUSE and
# wait for nbdfuse to exit, which disconnects from nbdkit.
detach ()
{
  if is_mounted "$mnt"; then
    guarded 120 umount "$mnt" || fail "umount $mnt failed"
  fi
  losetup -d "$loopdev"
  loopdev=
  wait_for 10 test -z "$(losetup -j "$fusedir/disk" -n -O NAME)" ||
    fail "loop device still attached"
  fusermount3 -u "$fusedir"
  wait_for 30 _pid_gone "$(cat "$tmpdir/nbdfuse.pid")" ||
    fail "nbdfuse did not exit after fusermount3 -u"
}

start_nbds3 size=256M page-size=1M cache-size=32M

attach
guarded 120 mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 \
  "$loopdev" || fail "mkfs.ext4 $loopdev failed"
guarded 60 mount -t ext4 "$loopdev" "$mnt" ||
  fail "failed: mount -t ext4 $loopdev $mnt"
random_file "$tmpdir/big" 20M
guarded 120 cp "$tmpdir/big" "$mnt/big" ||
  fail "failed: cp $tmpdir/big $mnt/big"
mkdir "$mnt/dir"
echo "hello from nbds3" >"$mnt/dir/hello.txt"
for i in $(seq 1 50); do echo "file $i" >"$mnt/dir/f$i"; done
guarded 120 sync -f "$mnt" ||
  fail "failed: sync -f $mnt"
detach
stop_nbdkit

start_nbds3 size=256M page-size=1M cache-size=32M
attach
guarded 120 e2fsck -fn "$loopdev" >"$tmpdir/fsck.out" 2>&1 || {
  cat "$tmpdir/fsck.out" >&2
  fail "e2fsck -fn found problems after the restart"
}
guarded 60 mount -t ext4 -o ro "$loopdev" "$mnt" ||
  fail "failed: mount -t ext4 -o ro $loopdev $mnt"
guarded 120 cmp "$tmpdir/big" "$mnt/big" ||
  fail "big file differs after the restart"
[ "$(cat "$mnt/dir/hello.txt")" = "hello from nbds3" ] ||
  fail "hello.txt differs"
for i in $(seq 1 50); do
  [ "$(cat "$mnt/dir/f$i")" = "file $i" ] || fail "dir/f$i differs"
done
detach
stop_nbdkit

info "ok: ext4 over nbdfuse + loop survives a restart, fsck clean"
