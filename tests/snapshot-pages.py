#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# Generation-stamped pages for tests/test-snapshot.sh.
#
#   snapshot-pages.py write URI PAGES PAGE_SIZE LOG STOP FIRST
#       Round g = FIRST, FIRST + 1, ...: write every page 0..PAGES-1 stamped with g,
#       flush, and append "g START_MS FLUSHED_MS" to LOG (Unix ms: when
#       the round's first write started, when its flush returned); stop
#       after the round during which the file STOP appears.
#   snapshot-pages.py check URI PAGES PAGE_SIZE LOG REQUEST_MS REPORT
#       Read every page of the snapshot at URI and check that it is
#       crash-consistent: no page is torn or misplaced or missing, every
#       round flushed before the snapshot was requested (REQUEST_MS) is
#       there, no round that started after the tool had the point (the
#       tool's JSON REPORT, point-known-at-ms) is, and the pages hold at
#       most two consecutive rounds.  Exits 1 saying what is wrong.
#
# A page: "NBDS3GEN", g, index (u64 each), a CRC-32 of the rest, then a
# pattern of (g, index) to the end, so that a page mixing two rounds, or
# served for another index, fails.

import json
import os
import struct
import sys
import time
import zlib

import nbd

MAGIC = b"NBDS3GEN"
HEAD = struct.Struct("<8sQQI")


def page(g, i, size):
    body = struct.pack("<QQ", g, i) * ((size - HEAD.size) // 16 + 1)
    body = body[: size - HEAD.size]
    crc = zlib.crc32(MAGIC + struct.pack("<QQ", g, i) + body)
    return HEAD.pack(MAGIC, g, i, crc) + body


def parse(buf, i):
    """The round stamped in BUF, page I, or a string saying what is wrong."""
    if buf == bytes(len(buf)):
        return "missing (zeros)"
    magic, g, idx, crc = HEAD.unpack_from(buf)
    body = buf[HEAD.size:]
    if magic != MAGIC:
        return "no stamp"
    if zlib.crc32(MAGIC + struct.pack("<QQ", g, idx) + body) != crc:
        return "torn (round %d)" % g
    if idx != i:
        return "holds page %d" % idx
    return g


def now_ms():
    return int(time.time() * 1000)


def write(uri, pages, size, log, stop, first):
    h = nbd.NBD()
    h.connect_uri(uri)
    g = first - 1
    with open(log, "a") as f:
        while True:
            g += 1
            start = now_ms()
            for i in range(pages):
                h.pwrite(page(g, i, size), i * size)
            h.flush()
            print(g, start, now_ms(), file=f, flush=True)
            if os.path.exists(stop):
                break
    h.shutdown()


def check(uri, pages, size, log, request_ms, report):
    rounds = {}
    for line in open(log):
        g, start, flushed = map(int, line.split())
        rounds[g] = (start, flushed)
    known = json.load(open(report))["point-known-at-ms"]
    h = nbd.NBD()
    h.connect_uri(uri)
    gens, bad = [], []
    for i in range(pages):
        r = parse(h.pread(size, i * size), i)
        if isinstance(r, str):
            bad.append("page %d: %s" % (i, r))
        else:
            gens.append(r)
    h.shutdown()
    if bad:
        sys.exit("the snapshot is damaged: " + "; ".join(bad))
    flushed = [g for g, (s, f) in rounds.items() if f < request_ms]
    late = [g for g, (s, f) in rounds.items() if s > known]
    lo, hi = min(gens), max(gens)
    print("snapshot holds rounds %d..%d; flushed before the request: up to "
          "%s; started after the point was known: from %s; %d rounds in all"
          % (lo, hi, max(flushed, default=None), min(late, default=None),
             len(rounds)))
    if flushed and lo < max(flushed):
        sys.exit("round %d was flushed before the snapshot was requested, "
                 "but a page holds round %d" % (max(flushed), lo))
    if late and hi >= min(late):
        sys.exit("a page holds round %d, which started after the tool had "
                 "the point" % hi)
    if hi - lo > 1:
        sys.exit("the pages hold rounds %d to %d: no power loss leaves that"
                 % (lo, hi))


if __name__ == "__main__":
    mode, uri, pages, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
        int(sys.argv[4])
    if mode == "write":
        write(uri, pages, size, sys.argv[5], sys.argv[6], int(sys.argv[7]))
    else:
        check(uri, pages, size, sys.argv[5], int(sys.argv[6]), sys.argv[7])
