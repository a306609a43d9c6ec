#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The crash-consistency tests' workload and oracle (test-crash.sh,
test-s3-crash-rgw.sh).  It owns the oracle: a JSON file, kept outside
nbdkit, that says per page the last generation written ("written", recorded
before the write is sent) and the last generation a successful flush
covered ("flushed").  It is rewritten (temp file and rename) before every
write is sent and after every flush returns, so it is whole and current
whatever is killed, and whenever.

Every write is one whole, aligned page, filled with one 32-byte stamp
repeated: magic, page index, generation and a BLAKE2b digest of those.  A
generation comes from one counter that survives rounds, so per page the
generations only grow.  After a crash and a restart, `check` reads every
page and asserts that it is all zeros (never written) or the one stamp of
its index repeated (not torn: one page never mixes two writes), and that
flushed <= stored generation <= written.  What it found becomes the next
round's "flushed": a later round must never go back below it.

  crash-driver.py write URI STATE --seed N --pages N --page-size BYTES
      Writes until the connection dies (nbdkit killed).  Writes go out
      in random permutations of the pages, up to --depth at once, never
      two to one page at once; after a random number of writes (mostly 1
      to --flush-every, sometimes more than a pass over every page) it
      waits for them and flushes.  STATE.flushing
      exists while a flush is in flight, STATE.flushes holds the number
      of successful flushes.  An error the server reports on a
      live connection is counted (write_errors, flush_errors) and the run
      goes on.  With --kill-pid PID, once the file STATE.arm exists it
      kills PID (nbdkit) with SIGKILL itself as soon as a flush of at
      least 8 pages returns.
      Exit: 0 at the connection's death, 2 if --max-seconds pass first.
  crash-driver.py check URI STATE --pages N --page-size BYTES
      Reads and judges every page (above), prints a summary, exit 1 on any
      violation.  A write or flush that failed while the connection was
      alive is a violation too (the tests give nbds3 no reason to fail).
"""

import argparse
import hashlib
import json
import os
import random
import signal
import struct
import sys
import time

import nbd

MAGIC = b"NBDS3CRT"
HEAD = struct.Struct("<8sQQ")       # magic, page index, generation
STAMP = HEAD.size + 8               # and 8 bytes of digest


def stamp(page, gen):
    head = HEAD.pack(MAGIC, page, gen)
    return head + hashlib.blake2b(head, digest_size=8).digest()


def page_data(page, gen, page_size):
    return stamp(page, gen) * (page_size // STAMP)


def judge(page, data, page_size):
    """The generation PAGE holds (0: all zeros), or a string saying why
    it is no page we wrote."""
    if data == bytes(page_size):
        return 0
    head, digest = data[:HEAD.size], data[HEAD.size:STAMP]
    magic, index, gen = HEAD.unpack(head)
    if magic != MAGIC or hashlib.blake2b(head, digest_size=8).digest() \
            != digest:
        return "no valid stamp at offset 0 (%r)" % data[:STAMP]
    if index != page:
        return "stamp of page %d (generation %d)" % (index, gen)
    want = page_data(page, gen, page_size)
    if data != want:
        off = next(i for i in range(page_size) if data[i] != want[i])
        off -= off % STAMP
        other = data[off:off + STAMP]
        _, oi, og = HEAD.unpack(other[:HEAD.size])
        return ("torn: generation %d at offset 0 but at offset %d %s" %
                (gen, off, "page %d generation %d" % (oi, og)
                 if other[:8] == MAGIC else "%r" % other))
    return gen


class Oracle:
    """The STATE file: written, flushed, the generation counter and the
    counts of what happened."""

    def __init__(self, path, pages):
        self.path = path
        st = {}
        if os.path.exists(path):
            with open(path) as f:
                st = json.load(f)
        self.written = [0] * pages
        self.flushed = [0] * pages
        for i, g in enumerate(st.get("written", [])[:pages]):
            self.written[i] = g
        for i, g in enumerate(st.get("flushed", [])[:pages]):
            self.flushed[i] = g
        self.gen = st.get("gen", 0)
        self.counts = st.get("counts", {})

    def count(self, what, n=1):
        self.counts[what] = self.counts.get(what, 0) + n

    def save(self):
        st = {"written": self.written, "flushed": self.flushed,
              "gen": self.gen, "counts": self.counts}
        with open(self.path + ".tmp", "w") as f:
            json.dump(st, f)
        os.replace(self.path + ".tmp", self.path)


def connect(uri):
    h = nbd.NBD()
    h.set_handle_name("crash-driver")
    h.connect_uri(uri)
    return h


def touch(path, text=""):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


class Disconnected(Exception):
    pass


def server_error(h, e):
    """Classify nbd.Error E: raise Disconnected if the connection is gone
    (nbdkit was killed), else return its text (an error the server sent)."""
    if h.aio_is_dead() or h.aio_is_closed():
        raise Disconnected(str(e))
    return str(e)


def writes_to_flush(rnd, a):
    """How many writes until the next flush: mostly a few, but in one
    interval of four more than a pass over every page, so that a page is
    written more than once between flushes."""
    if rnd.randrange(4) == 0:
        return rnd.randint(a.pages + 1, 3 * a.pages)
    return rnd.randint(1, a.flush_every)


def do_write(a):
    o = Oracle(a.state, a.pages)
    rnd = random.Random(a.seed)
    h = connect(a.uri)
    size = h.get_size()
    assert size >= a.pages * a.page_size, \
        "export of %d bytes is smaller than %d pages" % (size, a.pages)
    inflight = {}           # cookie -> (page, gen)
    # The writes whose success the next flush makes durable: the last
    # successful write of each page.
    pending = {}
    t_end = time.monotonic() + a.max_seconds
    ok_flushes = o.counts.get("flushes_ok", 0)
    first = ok_flushes

    def collect():
        for c in list(inflight):
            try:
                if not h.aio_command_completed(c):
                    continue
                pending[inflight[c][0]] = inflight[c][1]
            except nbd.Error as e:
                msg = server_error(h, e)
                o.count("write_errors")
                print("write of page %d (generation %d) failed: %s" %
                      (inflight[c] + (msg,)), flush=True)
            del inflight[c]

    def wait_until(done):
        collect()
        while not done():
            try:
                h.poll(-1)
            except nbd.Error as e:
                server_error(h, e)
                raise
            collect()

    def flush():
        nonlocal ok_flushes
        wait_until(lambda: not inflight)
        covered = dict(pending)
        touch(a.state + ".flushing")
        t = time.monotonic()
        try:
            h.flush()
        except nbd.Error as e:
            msg = server_error(h, e)
            o.count("flush_errors")
            o.save()
            print("flush failed: %s" % msg, flush=True)
            return False
        finally:
            if os.path.exists(a.state + ".flushing"):
                os.unlink(a.state + ".flushing")
        if a.kill_pid and len(covered) >= 8 and \
                os.path.exists(a.state + ".arm"):
            # Where a flush that returns too early is found out: the
            # pages written just before it were queued for write-back
            # only a moment ago.
            os.kill(a.kill_pid, signal.SIGKILL)
            a.kill_pid = 0
            print("killed nbdkit as soon as flush %d (%d pages) returned" %
                  (ok_flushes + 1, len(covered)), flush=True)
        for page, gen in covered.items():
            o.flushed[page] = max(o.flushed[page], gen)
        pending.clear()
        ms = int((time.monotonic() - t) * 1000)
        o.counts["slowest_flush_ms"] = max(ms, o.counts.get(
            "slowest_flush_ms", 0))
        ok_flushes += 1
        o.count("flushes_ok")
        o.save()
        touch(a.state + ".flushes", "%d\n" % ok_flushes)
        return True

    try:
        order = []
        until_flush = writes_to_flush(rnd, a)
        while True:
            if time.monotonic() > t_end:
                print("still running after %d s: nbdkit was not killed" %
                      a.max_seconds, flush=True)
                return 2
            if not order:
                order = list(range(a.pages))
                rnd.shuffle(order)
            page = order.pop()
            # Never two writes to one page at once: their order is not
            # defined.
            wait_until(lambda: page not in
                       (p for p, _ in inflight.values()))
            o.gen += 1
            o.written[page] = o.gen
            o.count("writes")
            o.save()
            buf = nbd.Buffer.from_bytearray(
                bytearray(page_data(page, o.gen, a.page_size)))
            try:
                c = h.aio_pwrite(buf, page * a.page_size)
            except nbd.Error as e:
                server_error(h, e)
                raise
            inflight[c] = (page, o.gen)
            wait_until(lambda: len(inflight) < a.depth)
            until_flush -= 1
            if until_flush == 0:
                flush()
                until_flush = writes_to_flush(rnd, a)
    except Disconnected as e:
        o.save()
        print("connection lost after %d writes, %d flushes (%d this run): "
              "%s" % (o.counts.get("writes", 0), ok_flushes,
                      ok_flushes - first, e), flush=True)
        return 0


def do_check(a):
    o = Oracle(a.state, a.pages)
    h = connect(a.uri)
    bad = []
    at = {"zeros": 0, "flushed": 0, "between": 0, "written": 0}
    for page in range(a.pages):
        try:
            got = judge(page, h.pread(a.page_size, page * a.page_size),
                        a.page_size)
        except nbd.Error as e:
            got = "cannot be read: %s" % e
        lo, hi = o.flushed[page], o.written[page]
        if isinstance(got, str):
            bad.append("page %d: %s (flushed %d, written %d)" %
                       (page, got, lo, hi))
            continue
        if not lo <= got <= hi:
            bad.append("page %d holds generation %d, outside flushed %d .. "
                       "written %d%s" % (page, got, lo, hi,
                                         " (LOST)" if got < lo else ""))
            continue
        if hi == 0:
            at["zeros"] += 1
        elif got == hi:
            at["written"] += 1
        elif got == lo:
            at["flushed"] += 1
        else:
            at["between"] += 1
        # A later round must not go below what is stored now.
        o.flushed[page] = got
    h.shutdown()
    c = o.counts
    print("check: %d pages: %d at the last write, %d at the last flush, "
          "%d between, %d never written; so far %d writes, %d flushes, "
          "%d write errors, %d flush errors; slowest flush %.1f s" %
          (a.pages, at["written"], at["flushed"], at["between"],
           at["zeros"], c.get("writes", 0), c.get("flushes_ok", 0),
           c.get("write_errors", 0), c.get("flush_errors", 0),
           c.get("slowest_flush_ms", 0) / 1000))
    for what in ("write_errors", "flush_errors"):
        if c.get(what, 0):
            bad.append("%d %s before the kill" % (c[what], what.replace(
                "_", " ")))
    for b in bad:
        print("VIOLATION: " + b)
    if bad:
        return 1
    o.save()
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mode", choices=["write", "check"])
    p.add_argument("uri")
    p.add_argument("state")
    p.add_argument("--pages", type=int, default=64)
    p.add_argument("--page-size", type=int, default=128 * 1024)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--depth", type=int, default=16)
    p.add_argument("--flush-every", type=int, default=24)
    p.add_argument("--max-seconds", type=int, default=300)
    p.add_argument("--kill-pid", type=int, default=0)
    a = p.parse_args()
    assert a.page_size % STAMP == 0
    return do_write(a) if a.mode == "write" else do_check(a)


if __name__ == "__main__":
    sys.exit(main())
