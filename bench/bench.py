#!/usr/bin/python3
# SPDX-License-Identifier: MIT
#
# The benchmark driver behind bench/run.sh (which builds the helpers, sets
# up the work directory and stops every daemon on exit).  It owns the
# targets, the workloads, the rounds and the report: it starts each target
# itself on a unix socket, runs the same workloads against each with fio's
# nbd engine and nbdcopy, alternates the targets over several rounds, and
# writes a table of medians with the ratios (results.txt), the raw
# numbers (results.json) and a gnuplot chart (results.png).
#
# Every process it starts is recorded in WORK/pids ("PID" lines) before it
# is waited for, so run.sh's trap can stop it if this script dies; this
# script stops each one itself (SIGTERM, bounded wait, SIGKILL) in a
# finally block.  Nothing here listens beyond 127.0.0.1 or a unix socket.

import argparse
import datetime
import glob
import hashlib
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time

import nbd

MiB = 1 << 20

# ---- Workloads and their columns in the table ----

# (key, heading, unit); the heading splits at "|" over two lines.
COLUMNS = [
    ("seq_write", "seq write|+flush", "MiB/s"),
    ("seq_read", "seq read|cold", "MiB/s"),
    ("rand_write", "rand 4k|write", "IOPS"),
    ("flush", "flush|after", "s"),
    ("rand_read_cold", "rand 4k|read cold", "IOPS"),
    ("rand_read_warm", "rand 4k|read warm", "IOPS"),
    ("copy_in", "nbdcopy|in", "MiB/s"),
    ("copy_out", "nbdcopy|out", "MiB/s"),
    ("rss", "peak|RSS", "MiB"),
    ("cpu_write", "CPU|seq write", "s/GiB"),
    ("cpu_read", "CPU|seq read", "s/GiB"),
]
# nbdkit's user + system seconds per GiB moved, over the sequential fio
# write (incl. its fsync) and the cold sequential read: CPU_COLUMNS[key]
# is the column of the rate it goes with.
CPU_COLUMNS = {"cpu_write": "seq_write", "cpu_read": "seq_read"}
# Issue 12's zero-fill: MiB of zeros written and flushed.
ZERO_FILL_MIB = 64

RAW_COLUMNS = [
    ("put_4m", "PUT 4M", "MiB/s"),
    ("get_4m", "GET 4M", "MiB/s"),
    ("put_128k", "PUT 128k", "req/s"),
    ("get_128k", "GET 128k", "req/s"),
    ("cpu_put_4m", "CPU PUT 4M", "s/GiB"),
    ("cpu_get_4m", "CPU GET 4M", "s/GiB"),
]


def log(msg):
    print("bench: %s" % msg, file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


def fmt_size(n):
    for unit, div in (("G", 1 << 30), ("M", MiB), ("k", 1024)):
        if n >= div and n % div == 0:
            return "%d%s" % (n // div, unit)
    return str(n)


# ---- Processes ----

class Daemon:
    """A process started in its own session, recorded in WORK/pids."""

    def __init__(self, ctx, name, argv, env=None, pidfile=None, ready=None):
        self.ctx = ctx
        self.name = name
        self.logpath = os.path.join(ctx.work, "log", "%s.log" % name)
        self.logf = open(self.logpath, "ab")
        self.logf.write(("==== %s\n" % " ".join(argv)).encode())
        self.logf.flush()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=self.logf,
                                     env=env or ctx.env,
                                     start_new_session=True)
        with open(os.path.join(ctx.work, "pids"), "a") as f:
            f.write("%d\n" % self.proc.pid)
        ctx.daemons.append(self)
        deadline = time.monotonic() + 120
        while True:
            if self.proc.poll() is not None:
                self.fail("exited with status %d while starting"
                          % self.proc.returncode)
            if (pidfile and os.path.exists(pidfile) and
                    os.path.getsize(pidfile) > 0) or (ready and ready()):
                break
            if time.monotonic() > deadline:
                self.fail("not ready after 120 s")
            time.sleep(0.02)

    def fail(self, why):
        self.stop()
        with open(self.logpath, errors="replace") as f:
            tail = f.readlines()[-20:]
        raise BenchError("%s %s; tail of %s:\n%s"
                         % (self.name, why, self.logpath, "".join(tail)))

    def hwm_mib(self):
        """Peak resident set size (VmHWM) in MiB, or None."""
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return None

    def stop(self, timeout=180):
        if self in self.ctx.daemons:
            self.ctx.daemons.remove(self)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log("%s did not stop in %d s: SIGKILL" % (self.name, timeout))
                self.proc.kill()
                self.proc.wait()
        self.logf.close()
        return self.proc.returncode


def cpu_secs(pid):
    """User + system seconds of process PID so far (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drop_page_cache(path):
    """Evict PATH's files from the kernel page cache (they are clean)."""
    paths = []
    if os.path.isdir(path):
        for d, _, files in os.walk(path):
            paths += [os.path.join(d, f) for f in files]
    elif os.path.exists(path):
        paths = [path]
    for p in paths:
        try:
            fd = os.open(p, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


# ---- Targets ----

class Target:
    """One NBD server configuration.  start() makes a fresh instance with
    empty storage; restart() stops it cleanly and starts it again on the
    same storage with cold caches."""

    s3 = False            # talks to the S3 server (so runs with latency too)
    restartable = True    # memory loses its data on restart

    def __init__(self, ctx, name):
        self.ctx = ctx
        self.name = name
        self.daemon = None
        self.hwm = 0.0
        self.seq = 0

    def uri(self):
        return "nbd+unix:///?socket=%s" % self.sock

    def nbdkit_argv(self):
        raise NotImplementedError

    def storage(self):
        """A path whose files to evict from the page cache, or None."""
        return None

    def _launch(self):
        self.seq += 1
        tag = "%s-%s" % (self.name, self.tag)
        self.sock = os.path.join(self.ctx.work, "sock", "%s.sock" % tag)
        pidfile = os.path.join(self.ctx.work, "run", "%s.pid" % tag)
        for p in (self.sock, pidfile):
            if os.path.exists(p):
                os.unlink(p)
        argv = ["nbdkit", "-f", "--log=stderr"] + (["-v"] if os.environ.get("BENCH_NBDKIT_VERBOSE") else []) + ["-U", self.sock,
                "-P", pidfile] + self.nbdkit_argv()
        self.daemon = Daemon(self.ctx, tag, argv, env=self.env(),
                             pidfile=pidfile)

    def env(self):
        return self.ctx.env

    def start(self, tag):
        self.tag = tag
        self.hwm = 0.0
        self.prepare()
        self._launch()

    def prepare(self):
        pass

    def stop(self):
        if self.daemon is None:
            return
        h = self.daemon.hwm_mib()
        if h is not None:
            self.hwm = max(self.hwm, h)
        rc = self.daemon.stop()
        self.daemon = None
        if rc not in (0, -signal.SIGTERM):
            raise BenchError("%s-%s exited with status %s"
                             % (self.name, self.tag, rc))

    def restart(self):
        if not self.restartable:
            return
        self.stop()
        st = self.storage()
        if st:
            drop_page_cache(st)
        self._launch()

    def peak_rss(self):
        if self.daemon is not None:
            h = self.daemon.hwm_mib()
            if h is not None:
                self.hwm = max(self.hwm, h)
        return self.hwm

    def cleanup(self):
        pass


class MemoryTarget(Target):
    restartable = False

    def nbdkit_argv(self):
        return ["memory", str(self.ctx.size)]


class FileTarget(Target):
    def prepare(self):
        d = os.path.join(self.ctx.data, self.name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        self.path = os.path.join(d, "disk.img")
        with open(self.path, "wb") as f:
            f.truncate(self.ctx.size)

    def nbdkit_argv(self):
        return ["file", self.path]

    def storage(self):
        return self.path

    def cleanup(self):
        shutil.rmtree(os.path.join(self.ctx.data, self.name),
                      ignore_errors=True)


class Nbds3Target(Target):
    def __init__(self, ctx, name, store, page_size, cache_size=None,
                 size=None):
        super().__init__(ctx, name)
        self.store = store
        self.s3 = store == "s3"
        self.page_size = page_size
        self.cache_size = cache_size or ctx.cache_size
        self.size = size or ctx.size
        self.extra = []                   # more keys (the zero-fill's)

    def prepare(self):
        if self.store == "fs":
            self.dir = os.path.join(self.ctx.data, self.name)
            shutil.rmtree(self.dir, ignore_errors=True)
            os.makedirs(self.dir)

    def nbdkit_argv(self):
        argv = [self.ctx.plugin, "page-size=%s" % fmt_size(self.page_size),
                "cache-size=%s" % fmt_size(self.cache_size),
                "size=%s" % fmt_size(self.size),
                "default-export=%s-%s" % (self.name, self.tag)] + self.extra
        if self.store == "fs":
            argv.append("data-dir=%s" % self.dir)
        else:
            # As bench/s3raw signs: the CPU comparison is like for like.
            argv += ["bucket=%s" % self.ctx.bucket,
                     "endpoint=%s" % self.ctx.endpoint,
                     "payload-signing=unsigned"]
        return argv

    def storage(self):
        return self.dir if self.store == "fs" else None

    def count_pages(self):
        """Page files or objects of the export in the store now."""
        prefix = "exports/%s-%s/page-" % (self.name, self.tag)
        if self.store == "fs":
            return len(glob.glob(os.path.join(self.dir, prefix + "*")))
        import boto3
        env = self.ctx.env
        s3 = boto3.client("s3", endpoint_url=self.ctx.endpoint,
                          region_name=env["AWS_REGION"],
                          aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
        n = 0
        for page in s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.ctx.bucket, Prefix=prefix):
            n += page.get("KeyCount", 0)
        return n

    def cleanup(self):
        if self.store == "fs":
            shutil.rmtree(self.dir, ignore_errors=True)


class S3PluginTarget(Target):
    """nbdkit's own Python S3 plugin (boto3) on the same server."""
    s3 = True

    def __init__(self, ctx, name, object_size):
        super().__init__(ctx, name)
        self.object_size = object_size

    def nbdkit_argv(self):
        # nbdkit 1.32 refuses the plugin's own minimum block size (the
        # object size) when it is over 64k.
        return ["--filter=blocksize-policy", "S3",
                "endpoint-url=%s" % self.ctx.endpoint,
                "bucket=%s" % self.ctx.bucket, "key=%s-%s" % (self.name, self.tag),
                "size=%d" % self.ctx.size,
                "object-size=%s" % fmt_size(self.object_size),
                "blocksize-minimum=512",
                "blocksize-preferred=%s" % fmt_size(self.object_size),
                "blocksize-maximum=32M"]


# ---- Workloads ----

class Runner:
    def __init__(self, ctx):
        self.ctx = ctx
        self.n = 0

    def fio(self, target, rw, bs, iodepth, extra=()):
        self.n += 1
        out = os.path.join(self.ctx.work, "fio", "%s-%s-%d.json"
                           % (target.name, rw, self.n))
        argv = ["fio", "--name=%s" % (rw or "replay"), "--ioengine=nbd",
                "--uri=%s" % target.uri(), "--bs=%s" % bs,
                "--iodepth=%d" % iodepth, "--output-format=json",
                "--output=%s" % out] + list(extra)
        if rw:
            argv.append("--rw=%s" % rw)
        r = subprocess.run(argv, env=self.ctx.env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            raise BenchError("fio %s on %s failed:\n%s"
                             % (rw, target.name, r.stdout[-2000:]))
        with open(out) as f:
            job = json.load(f)["jobs"][0]
        if job["error"]:
            raise BenchError("fio %s on %s: error %d"
                             % (rw, target.name, job["error"]))
        return job

    def seq(self, target, write, res=None):
        """MiB/s; with RES, also nbdkit's CPU-seconds per GiB in it."""
        rw = "write" if write else "read"
        extra = ["--size=%d" % self.ctx.size]
        if write:
            extra.append("--end_fsync=1")
        pid = target.daemon.proc.pid
        c0 = cpu_secs(pid)
        job = self.fio(target, rw, "1M", 8, extra)
        if res is not None:
            res["cpu_" + rw] = ((cpu_secs(pid) - c0) /
                                (self.ctx.size / (1 << 30)))
        return job[rw]["bw_bytes"] / MiB

    def rand(self, target, write):
        rw = "randwrite" if write else "randread"
        job = self.fio(target, rw, "4k", 16,
                       ["--size=%d" % self.ctx.size, "--time_based",
                        "--runtime=%d" % self.ctx.rand_secs,
                        "--norandommap", "--randrepeat=0"])
        return job["write" if write else "read"]["iops"]

    def rand_read_cold(self, target):
        """One 4k read in each 128k block, in a random order, QD16, bounded
        by rand_secs; IOPS.  Plain random reads would soon hit pages that
        earlier reads fetched and measure the cache, not the store.

        This uses libnbd from Python rather than fio: fio 3.33 replaying an
        iolog closes its connection with requests in flight, and nbdkit
        1.32 then aborts (connections.c:402 raw_send_socket: Assertion
        `sock >= 0' failed).  At the rates this measures (a store round
        trip per read) the client is far from the bottleneck."""
        qd = 16
        offsets = self.ctx.cold_offsets
        inflight = {}
        done = i = 0
        h = nbd.NBD()
        try:
            h.connect_uri(target.uri())
            t0 = time.monotonic()
            deadline = t0 + self.ctx.rand_secs
            while True:
                while (len(inflight) < qd and i < len(offsets) and
                       time.monotonic() < deadline):
                    buf = nbd.Buffer(4096)
                    inflight[h.aio_pread(buf, offsets[i])] = buf
                    i += 1
                if not inflight:
                    break
                h.poll(-1)
                while inflight:
                    cookie = h.aio_peek_command_completed()
                    if cookie <= 0:
                        break
                    h.aio_command_completed(cookie)   # raises on error
                    del inflight[cookie]
                    done += 1
            secs = time.monotonic() - t0
            h.shutdown()
        finally:
            h.close() if hasattr(h, "close") else None
            del h
        return done / secs

    def flush(self, target):
        h = nbd.NBD()
        try:
            h.connect_uri(target.uri())
            t = time.monotonic()
            h.flush()
            secs = time.monotonic() - t
            h.shutdown()
        finally:
            del h
        return secs

    def nbdcopy(self, target, src, dst, flush):
        argv = ["nbdcopy", "--request-size=%d" % (4 * MiB)]
        if flush:
            argv.append("--flush")
        t = time.monotonic()
        r = subprocess.run(argv + [src, dst], env=self.ctx.env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
        secs = time.monotonic() - t
        if r.returncode != 0:
            raise BenchError("nbdcopy %s %s failed:\n%s"
                             % (src, dst, r.stdout[-2000:]))
        return self.ctx.size / MiB / secs

    def run_target(self, target, tag):
        """All workloads on one fresh instance of TARGET; a dict."""
        res = {}
        ok = False
        target.start(tag)
        try:
            res["seq_write"] = self.seq(target, True, res)
            target.restart()
            res["seq_read"] = self.seq(target, False, res)
            res["rand_write"] = self.rand(target, True)
            res["flush"] = self.flush(target)
            target.restart()
            res["rand_read_cold"] = self.rand_read_cold(target)
            self.seq(target, False)           # warm the cache
            res["rand_read_warm"] = self.rand(target, False)
            res["copy_in"] = self.nbdcopy(target, self.ctx.source,
                                          target.uri(), True)
            target.restart()
            out = os.path.join(self.ctx.work, "copy-out.img")
            if os.path.exists(out):
                os.unlink(out)
            res["copy_out"] = self.nbdcopy(target, target.uri(), out, False)
            if sha256(out) != self.ctx.source_sha:
                raise BenchError("%s: nbdcopy out differs from what was "
                                 "copied in" % target.name)
            os.unlink(out)
            res["rss"] = target.peak_rss()
            target.stop()
            res["rss"] = max(res["rss"], target.hwm)
            ok = True
        finally:
            stop_quietly(target, ok)
        return res

    def memory_test(self, target, tag):
        """Write ctx.mem_bytes sequentially through cache-size=256M."""
        ok = False
        target.start(tag)
        try:
            self.n += 1
            job = self.fio(target, "write", "1M", 8,
                           ["--size=%d" % self.ctx.mem_bytes,
                            "--end_fsync=1"])
            res = {"mem_write": job["write"]["bw_bytes"] / MiB,
                   "mem_rss": target.peak_rss()}
            target.stop()
            res["mem_rss"] = max(res["mem_rss"], target.hwm)
            ok = True
        finally:
            stop_quietly(target, ok)
        return res

    def zero_fill(self, target, tag):
        """Issue 12's zero-fill: 64 MiB of zeros piped through nbdcopy
        (data writes, not zero requests) and flushed; the page objects
        stored and the PUTs nbds3 counted (target: 0 and 0)."""
        ok = False
        stats = os.path.join(self.ctx.work, "run", "zero-%s.json" % tag)
        target.extra = ["stats-file=%s" % stats]
        target.start(tag)
        try:
            dd = subprocess.Popen(["dd", "if=/dev/zero", "bs=1M",
                                   "count=%d" % ZERO_FILL_MIB,
                                   "status=none"], stdout=subprocess.PIPE)
            r = subprocess.run(["nbdcopy", "--flush", "-", target.uri()],
                               stdin=dd.stdout, env=self.ctx.env,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
            dd.stdout.close()
            if dd.wait() != 0 or r.returncode != 0:
                raise BenchError("zero-fill of %s failed:\n%s"
                                 % (target.name, r.stdout[-2000:]))
            target.stop()                 # the final statistics
            with open(stats) as f:
                puts = json.load(f)["total"]["puts"]
            res = {"zero_objects": target.count_pages(), "zero_puts": puts}
            ok = True
        finally:
            target.extra = []
            stop_quietly(target, ok)
        return res

    def raw(self, endpoint, tag):
        """The S3 server's ceiling, by bench/s3raw (a libcurl client)."""
        res = {}
        n4m = self.ctx.size // (4 * MiB)
        n128k = self.ctx.size // (128 * 1024)
        for key, method, size, count in (
                ("put_4m", "PUT", 4 * MiB, n4m),
                ("get_4m", "GET", 4 * MiB, n4m),
                ("put_128k", "PUT", 128 * 1024, n128k),
                ("get_128k", "GET", 128 * 1024, n128k)):
            prefix = "raw-%s-%s" % (tag, fmt_size(size))
            proc = subprocess.Popen([self.ctx.s3raw, method, endpoint,
                                     self.ctx.bucket, prefix, str(size),
                                     str(count), str(self.ctx.connections)],
                                    env=self.ctx.env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
            stdout = proc.stdout.read()
            _, status, ru = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            if proc.returncode != 0:
                raise BenchError("s3raw %s failed:\n%s" % (key, stdout))
            kv = dict(w.split("=") for w in stdout.split()
                      if "=" in w)
            secs = float(kv["secs"])
            if size == 4 * MiB:
                res[key] = int(kv["bytes"]) / MiB / secs
                res["cpu_" + key] = ((ru.ru_utime + ru.ru_stime) /
                                     (int(kv["bytes"]) / (1 << 30)))
            else:
                res[key] = int(kv["ops"]) / secs
        return res


def stop_quietly(target, ok):
    """Stop TARGET and remove its storage; a failure to stop is only
    raised when nothing else already failed (the first error is news)."""
    try:
        target.stop()
    except BenchError:
        if ok:
            raise
    finally:
        target.cleanup()


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(4 * MiB)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


# ---- The S3 server and its delaying proxy ----

def start_rgw(ctx):
    d = os.path.join(ctx.work, "rgw")
    env = dict(ctx.env, RGW_OBJECTSTORE="bluestore",
               RGW_BLUESTORE_SIZE=ctx.bluestore_size)
    log("starting radosgw (bluestore on a sparse %s file)"
        % ctx.bluestore_size)
    r = subprocess.run([ctx.s3server, "start-rgw", d], env=env,
                       stdout=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise BenchError("tests/s3-server.sh start-rgw failed")
    kv = {}
    for line in r.stdout.splitlines():
        k, _, v = line.partition("=")
        kv[k] = v.strip("'")
    r = subprocess.run([ctx.s3server, "mkbucket", d, ctx.bucket], env=env,
                       stdout=subprocess.DEVNULL)
    if r.returncode != 0:
        raise BenchError("cannot create bucket %s" % ctx.bucket)
    return kv


def start_proxy(ctx, upstream_port, delay_ms):
    portfile = os.path.join(ctx.work, "run", "proxy.port")
    if os.path.exists(portfile):
        os.unlink(portfile)
    d = Daemon(ctx, "delay-proxy",
               [ctx.proxy, str(upstream_port), str(delay_ms), portfile],
               ready=lambda: os.path.exists(portfile) and
               os.path.getsize(portfile) > 0)
    with open(portfile) as f:
        return d, "http://127.0.0.1:%d" % int(f.read())


# ---- Report ----

def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, unit=""):
    if v is None:
        return "-"
    if unit == "s":
        return "%.2f" % v
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    return "%.2f" % v


def fmt_spread(values, unit=""):
    """"MIN-MAX" of the measured VALUES, or "-"."""
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    return "%s-%s" % (fmt(min(values), unit), fmt(max(values), unit))


def build_report(ctx, results, footer):
    """results[pass][target] = list of per-round dicts; returns text."""
    lines = []
    L = lines.append
    lines += ctx.header
    L("")
    passes = [p for p in ctx.passes if p in results]
    for p in passes:
        L("== %s: medians over %d round%s ==" % (
            pass_title(ctx, p), ctx.rounds, "" if ctx.rounds == 1 else "s"))
        names = [t for t in ctx.order if t in results[p] and t != "raw"]
        w = max(len(n) for n in names + ["target"]) + 1
        cols = COLUMNS
        L("%-*s" % (w, "target") +
          "".join("%12s" % c[1].split("|")[0] for c in cols))
        L("%-*s" % (w, "") + "".join("%12s" % c[1].split("|")[1]
                                     for c in cols))
        L("%-*s" % (w, "") + "".join("%12s" % ("(%s)" % c[2]) for c in cols))
        for n in names:
            row = "%-*s" % (w, n)
            spread = "%-*s" % (w, "  min-max")
            for key, _, unit in cols:
                v = vals(results, p, n, key)
                row += "%12s" % fmt(med(v), unit)
                spread += "%12s" % fmt_spread(v, unit)
            L(row)
            if ctx.rounds > 1:
                L(spread)
        if "raw" in results[p]:
            L("")
            L("S3 server ceiling (bench/s3raw, %d parallel requests), "
              "medians [min-max]:" % ctx.connections)
            for c in RAW_COLUMNS:
                v = vals(results, p, "raw", c[0])
                L("  %-11s %8s %-6s [%s]" % (c[1], fmt(med(v)), c[2],
                                            fmt_spread(v, c[2]).strip()))
        mem = ctx.mem_results.get(p)
        if mem:
            L("")
            L("memory: %s written through cache-size=256M:" %
              fmt_size(ctx.mem_bytes))
            for n, r in mem.items():
                L("  %-14s peak RSS %5.0f MiB (limit %d), write %s MiB/s"
                  % (n, r["mem_rss"], 256 + 64, fmt(r["mem_write"])))
            if any(n.startswith("nbds3-s3") for n in mem):
                L("  (not nbds3-s3-128k: %s in 128k PUTs would take "
                  "minutes)" % fmt_size(ctx.mem_bytes))
        L("")
    if ctx.zero_results:
        L("zero-fill: %d MiB of zeros (dd | nbdcopy --flush), one round:"
          % ZERO_FILL_MIB)
        for n, r in ctx.zero_results.items():
            L("  %-14s %d page objects stored, %d PUTs"
              % (n, r["zero_objects"], r["zero_puts"]))
        L("")
    L("== targets of issues 4 and 12 (ratio = nbds3 / reference: median "
      "of the per-round ratios [min-max]; a miss that a round met is "
      "INCONCLUSIVE) ==")
    for line in target_lines(ctx, results):
        L(line)
    L("")
    L("== per-round values ==")
    for p in passes:
        for n in ctx.order:
            if n not in results[p]:
                continue
            for i, r in enumerate(results[p][n]):
                L("%s %s r%d: %s" % (pass_short(p), n, i + 1, " ".join(
                    "%s=%s" % (k, fmt(v)) for k, v in r.items())))
    L("")
    L(footer)
    return "\n".join(lines) + "\n"


def pass_title(ctx, p):
    return ("no added latency" if p == 0 else
            "%d ms added before every S3 response" % ctx.delay_ms)


def pass_short(p):
    return "nodelay" if p == 0 else "delay"


def vals(results, p, name, key):
    """The per-round values of KEY for NAME in pass P (None where not
    measured), in round order."""
    if p not in results or name not in results[p]:
        return []
    return [r.get(key) for r in results[p][name]]


def verdict(ratios, need, most):
    """The median of the per-round RATIOS and its verdict against NEED
    (an upper bound when MOST): a miss that some round's ratio would have
    met is inconclusive, inside the run's spread."""
    rm = statistics.median(ratios)
    ok = (lambda r: r <= need) if most else (lambda r: r >= need)
    if ok(rm):
        return rm, "PASS"
    return rm, "INCONCLUSIVE" if any(ok(r) for r in ratios) else "MISS"


def target_lines(ctx, results):
    """One line a target of issues 4 and 12: the median of the per-round
    ratios (round i of the target over round i of its reference, run close
    in time), their spread, and the raw client's parallelism where it is
    the reference."""
    out = []

    def m(p, name, key):
        return med(vals(results, p, name, key))

    def check(label, p, name, key, rp, rname, rkey, need, refname,
              ceiling=None, most=False):
        """CEILING: the server's raw rate for this workload, when the
        reference is a peer on the same server: then no target can beat
        CEILING / REF, and the line says so when that is below NEED."""
        pairs = [(v, r) for v, r in zip(vals(results, p, name, key),
                                         vals(results, rp, rname, rkey))
                 if v is not None and r]
        if not pairs:
            out.append("  %-58s %-8s n/a (%s not measured)"
                       % (label, pass_short(p), refname))
            return
        ratios = [v / r for v, r in pairs]
        rm, word = verdict(ratios, need, most)
        line = ("  %-58s %-8s %6.2f [%.2f-%.2f]  need %s %-4g %s"
                % (label, pass_short(p), rm, min(ratios), max(ratios),
                   "<=" if most else ">=", need, word))
        if rname == "raw":
            line += " (raw: %d parallel)" % ctx.connections
        ref = m(rp, rname, rkey)
        if ceiling is not None and ref and ceiling / ref < need:
            line += (" (the server's raw rate is %.2f x %s: unattainable "
                     "here)" % (ceiling / ref, refname))
        out.append(line)

    s3_4m, s3_128k = "nbds3-s3-4M", "nbds3-s3-128k"
    for p in ctx.passes:
        if p not in results:
            continue
        check("S3 seq write+flush 4M vs raw PUT 4M", p, s3_4m, "seq_write",
              p, "raw", "put_4m", 0.9, "raw")
        check("S3 seq write+flush 4M vs nbdkit S3 plugin", p, s3_4m,
              "seq_write", p, "nbdkit-S3-4M", "seq_write", 5, "plugin",
              m(p, "raw", "put_4m"))
        check("S3 cold seq read 4M vs raw GET 4M", p, s3_4m, "seq_read",
              p, "raw", "get_4m", 0.9, "raw")
        check("S3 cold seq read 4M vs nbdkit S3 plugin", p, s3_4m,
              "seq_read", p, "nbdkit-S3-4M", "seq_read", 2.5, "plugin",
              m(p, "raw", "get_4m"))
        check("S3 cold rand 4k read 128k IOPS vs raw GET 128k req/s", p,
              s3_128k, "rand_read_cold", p, "raw", "get_128k", 0.9, "raw")
        if p == 0:
            check("S3 4M nbdkit CPU s/GiB seq write vs raw PUT 4M", p,
                  s3_4m, "cpu_write", p, "raw", "cpu_put_4m", 2, "raw",
                  most=True)
            check("S3 4M nbdkit CPU s/GiB cold seq read vs raw GET 4M", p,
                  s3_4m, "cpu_read", p, "raw", "cpu_get_4m", 2, "raw",
                  most=True)
        if p == 1:
            for key, what in (("seq_write", "seq write+flush"),
                              ("seq_read", "cold seq read"),
                              ("rand_read_cold", "cold rand 4k read")):
                check("S3 128k %s, %d ms added vs none" % (what,
                                                           ctx.delay_ms),
                      p, s3_128k, key, 0, s3_128k, key, 0.8, "no delay")
        for n in ctx.nbds3_names():
            if p == 1 and not n.startswith("nbds3-s3"):
                continue
            check("%s rand 4k write vs nbdkit memory" % n, p, n,
                  "rand_write", 0, "nbdkit-memory", "rand_write", 0.7,
                  "memory")
        for n in ctx.nbds3_names():
            if p == 1 and not n.startswith("nbds3-s3"):
                continue
            check("%s warm rand 4k read vs nbdkit memory" % n, p, n,
                  "rand_read_warm", 0, "nbdkit-memory", "rand_read_warm",
                  0.8, "memory")
        if p == 0:
            for n in ctx.nbds3_names():
                if not n.startswith("nbds3-fs"):
                    continue
                check("%s seq write+flush vs nbdkit file" % n, p, n,
                      "seq_write", p, "nbdkit-file", "seq_write", 0.8,
                      "file")
                check("%s cold seq read vs nbdkit file" % n, p, n,
                      "seq_read", p, "nbdkit-file", "seq_read", 0.8, "file")
        for n, r in ctx.mem_results.get(p, {}).items():
            limit = 256 + 64
            out.append("  %-58s %-8s %4.0f MiB need <= %d MiB %s"
                       % ("%s peak RSS, %s through cache-size=256M"
                          % (n, fmt_size(ctx.mem_bytes)), pass_short(p),
                          r["mem_rss"], limit,
                          "PASS" if r["mem_rss"] <= limit else "MISS"))
    for n, r in ctx.zero_results.items():
        bad = r["zero_objects"] + r["zero_puts"]
        out.append("  %-58s %-8s %d objects, %d PUTs need 0 %s"
                   % ("%s zero-fill %d MiB" % (n, ZERO_FILL_MIB),
                      pass_short(0), r["zero_objects"], r["zero_puts"],
                      "PASS" if bad == 0 else "MISS"))
    return out


def write_chart(ctx, results, png):
    """One panel per workload, a bar pair per target (no delay, delay)."""
    dat_dir = os.path.join(ctx.work, "chart")
    os.makedirs(dat_dir, exist_ok=True)
    panels = []
    for key, title, unit in COLUMNS:
        if key in ("flush",):
            continue
        rows = []
        for n in ctx.order:
            if n == "raw":
                continue
            vals = []
            for p in (0, 1):
                v = None
                if p in results and n in results[p]:
                    v = med(r.get(key) for r in results[p][n])
                vals.append(v)
            if vals[0] is None and vals[1] is None:
                continue
            rows.append((n, vals))
        if key in ("seq_write",) and any("raw" in results[p]
                                         for p in results):
            rows.append(("S3 raw PUT 4M",
                         [med(r["put_4m"] for r in results[p]["raw"])
                          if p in results and "raw" in results[p] else None
                          for p in (0, 1)]))
        if key in ("seq_read",) and any("raw" in results[p]
                                        for p in results):
            rows.append(("S3 raw GET 4M",
                         [med(r["get_4m"] for r in results[p]["raw"])
                          if p in results and "raw" in results[p] else None
                          for p in (0, 1)]))
        if key in ("rand_read_cold",) and any("raw" in results[p]
                                              for p in results):
            rows.append(("S3 raw GET 128k",
                         [med(r["get_128k"] for r in results[p]["raw"])
                          if p in results and "raw" in results[p] else None
                          for p in (0, 1)]))
        path = os.path.join(dat_dir, "%s.dat" % key)
        with open(path, "w") as f:
            for n, vals in rows:
                f.write('"%s" %s\n' % (n, " ".join(
                    "%.6g" % v if v else "NaN" for v in vals)))
        has_delay = any(vals[1] for _, vals in rows)
        if rows:
            panels.append((path, "%s (%s)" % (title.replace("|", " "), unit),
                       key == "rss" or key in CPU_COLUMNS,
                           has_delay))
    gp = os.path.join(dat_dir, "chart.gp")
    with open(gp, "w") as f:
        f.write('set terminal pngcairo size 1600,1850 font "sans,9"\n')
        f.write('set output "%s"\n' % png)
        f.write('set multiplot layout 5,2 title "%s"\n'
                % ctx.chart_title().replace('"', "'"))
        f.write("set style data histograms\n")
        f.write("set style histogram clustered gap 1\n")
        f.write("set style fill solid 0.8 border -1\n")
        f.write("set boxwidth 0.9\n")
        f.write("set xtics rotate by -30 nomirror\n")
        f.write("set grid ytics\n")
        f.write("set key top right\n")
        f.write("set logscale y\n")
        f.write("set yrange [*:*]\n")
        for path, title, linear, has_delay in panels:
            f.write('set title "%s"\n' % title)
            f.write("%s\n" % ("unset logscale y; set yrange [0:*]"
                              if linear else
                              "set logscale y; set yrange [*:*]"))
            f.write('plot "%s" using 2:xtic(1) title "no delay" '
                    'lc rgb "#3060c0"' % path)
            if has_delay:
                f.write(', "" using 3 title "%d ms delay" lc rgb "#e08020"'
                        % ctx.delay_ms)
            f.write("\n")
        f.write("unset multiplot\n")
    r = subprocess.run(["gnuplot", gp], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise BenchError("gnuplot failed:\n%s" % r.stdout)


# ---- Main ----

class Context:
    def __init__(self, args):
        self.args = args
        self.work = args.work
        self.top = args.top
        self.plugin = os.path.join(self.top, "plugin", ".libs", "nbds3.so")
        self.s3server = os.path.join(self.top, "tests", "s3-server.sh")
        self.s3raw = os.path.join(self.work, "bin", "s3raw")
        self.proxy = os.path.join(self.work, "bin", "delay-proxy")
        self.quick = args.quick
        self.rounds = args.rounds or (1 if args.quick else 3)
        self.size = (64 if args.quick else 256) * MiB
        self.rand_secs = args.rand_secs or (3 if args.quick else 6)
        self.mem_bytes = (512 if args.quick else 2048) * MiB
        self.cache_size = 512 * MiB
        self.connections = 8
        self.delay_ms = args.delay_ms
        self.bucket = "bench"
        self.bluestore_size = "48G"
        self.data = os.path.join(self.work, "data")
        self.daemons = []
        self.mem_results = {}
        self.zero_results = {}
        self.passes = [0] if args.no_delay else [0, 1]
        self.env = dict(os.environ)
        self.env["PATH"] = "/usr/bin:/bin:" + self.env.get("PATH", "")
        self.env["LANG"] = "C"
        for d in ("log", "sock", "run", "fio", "bin", "data"):
            os.makedirs(os.path.join(self.work, d), exist_ok=True)

    def describe_commit(self):
        """The commit measured; "-dirty" if tracked files other than the
        benchmark's own results differ from it."""
        def git(*argv):
            return subprocess.run(["git", "-C", self.top] + list(argv),
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL,
                                  text=True).stdout.strip()
        head = git("rev-parse", "--short", "HEAD") or "?"
        if git("status", "--porcelain", "--untracked-files=no", "--", ".",
               ":(exclude)bench/results.*"):
            head += "-dirty"
        return head

    def nbds3_names(self):
        return [n for n in self.order if n.startswith("nbds3-")]

    def header_lines(self):
        cpu = "?"
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        return [
            "nbds3 benchmark, %s, commit %s" % (
                datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
                self.commit),
            "command: %s" % self.args.command,
            "machine: %d CPUs (%s), %s, %s" % (
                os.cpu_count(), cpu, platform.release(),
                nbdkit_version(self.env)),
            "mode: %s; %d round%s (targets alternate each round), %s of "
            "data, random phases %d s, nbds3 cache-size=%s "
            "(connections=auto), bench/s3raw %d parallel" % (
                "quick" if self.quick else "full", self.rounds,
                "" if self.rounds == 1 else "s", fmt_size(self.size),
                self.rand_secs, fmt_size(self.cache_size), self.connections),
            "S3 server: %s" % self.s3_desc,
            "S3 signing: plain HTTP, UNSIGNED-PAYLOAD for both nbds3 "
            "(payload-signing=unsigned) and bench/s3raw, so the CPU "
            "columns compare like with like",
            "CPU: nbdkit's user+system seconds per GiB over the fio seq "
            "write (incl. fsync) and the cold seq read (/proc/PID/stat); "
            "s3raw's from wait4",
            "latency: bench/delay-proxy (TCP proxy, %d ms before the first "
            "bytes of every response)" % self.delay_ms,
            "workloads: fio nbd engine (seq 1M QD8 incl. end_fsync; rand 4k "
            "QD16 time-based; cold rand read = one 4k read per 128k block,",
            "  random order, QD16, by libnbd from Python), nbdcopy --request-size=4M (in with --flush; out "
            "after a restart, sha256 checked); cold = server restarted,",
            "  its files evicted from the page cache (memory is not "
            "restarted: it would lose its data)",
        ]

    def chart_title(self):
        return ("nbds3 benchmark (%s, %d rounds, %s, medians; log scale "
                "except RSS and CPU)" % ("quick" if self.quick else "full",
                                 self.rounds, fmt_size(self.size)))


def nbdkit_version(env):
    r = subprocess.run(["nbdkit", "--version"], env=env,
                       stdout=subprocess.PIPE, text=True)
    return r.stdout.strip()


def plugin_has_s3(ctx):
    r = subprocess.run(["nbdkit", ctx.plugin, "--help"], env=ctx.env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    return "bucket=" in r.stdout


def main():
    ap = argparse.ArgumentParser(description="nbds3 benchmark driver "
                                 "(run it through bench/run.sh)")
    ap.add_argument("--work")
    ap.add_argument("--top")
    ap.add_argument("--out", required=True)
    ap.add_argument("--replot", metavar="RESULTS_JSON",
                    help="only redo results.txt and results.png")
    ap.add_argument("--command", default="bench/run.sh")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--rand-secs", type=int)
    ap.add_argument("--delay-ms", type=int, default=30)
    ap.add_argument("--no-delay", action="store_true")
    ap.add_argument("--no-s3", action="store_true")
    ap.add_argument("--targets", help="comma-separated subset of targets")
    ap.add_argument("--zero-fill-only", action="store_true",
                    help="only the zero-fill workload")
    args = ap.parse_args()
    if args.replot:
        replot(args.replot, args.out)
        return
    if not args.work or not args.top:
        ap.error("--work and --top are required")

    ctx = Context(args)
    ctx.commit = ctx.describe_commit()
    t_start = time.monotonic()
    s3 = not args.no_s3
    nbds3_s3 = s3 and plugin_has_s3(ctx)
    if s3 and not nbds3_s3:
        log("this nbds3 build has no S3 store (no bucket= key): the S3 "
            "targets of nbds3 are skipped")

    targets = [MemoryTarget(ctx, "nbdkit-memory"),
               FileTarget(ctx, "nbdkit-file"),
               Nbds3Target(ctx, "nbds3-fs-4M", "fs", 4 * MiB),
               Nbds3Target(ctx, "nbds3-fs-128k", "fs", 128 * 1024)]
    if nbds3_s3:
        targets += [Nbds3Target(ctx, "nbds3-s3-4M", "s3", 4 * MiB),
                    Nbds3Target(ctx, "nbds3-s3-128k", "s3", 128 * 1024)]
    if s3:
        targets.append(S3PluginTarget(ctx, "nbdkit-S3-4M", 4 * MiB))
    names = [t.name for t in targets] + (["raw"] if s3 else [])
    if args.targets:
        want = args.targets.split(",")
        bad = [w for w in want if w not in names]
        if bad:
            sys.exit("bench: unknown targets %s (have: %s)"
                     % (",".join(bad), ",".join(names)))
        targets = [t for t in targets if t.name in want]
        names = [n for n in names if n in want]
    ctx.order = names
    s3 = "raw" in names or any(t.s3 for t in targets)
    if not s3:
        ctx.passes = [0]

    # Input for nbdcopy: incompressible, no zero blocks.
    ctx.source = os.path.join(ctx.work, "source.img")
    with open(ctx.source, "wb") as f:
        f.write(os.urandom(ctx.size))
    ctx.source_sha = sha256(ctx.source)
    rng = random.Random(4)
    blocks = list(range(ctx.size // (128 * 1024)))
    rng.shuffle(blocks)
    ctx.cold_offsets = [b * 128 * 1024 + rng.randrange(32) * 4096
                        for b in blocks]

    results = {}
    runner = Runner(ctx)
    proxy = None
    ctx.s3_desc = "none (--no-s3)"
    endpoints = {}
    try:
        if s3:
            kv = start_rgw(ctx)
            direct = kv["S3_ENDPOINT"]
            ctx.env["AWS_ACCESS_KEY_ID"] = kv["S3_ACCESS_KEY"]
            ctx.env["AWS_SECRET_ACCESS_KEY"] = kv["S3_SECRET_KEY"]
            ctx.env["AWS_REGION"] = kv["S3_REGION"]
            ctx.env["AWS_DEFAULT_REGION"] = kv["S3_REGION"]
            ceph = subprocess.run(["radosgw", "--version"], env=ctx.env,
                                  stdout=subprocess.PIPE, text=True)
            ctx.s3_desc = ("radosgw (%s), one bluestore OSD on a sparse "
                           "file, tests/s3-server.sh" %
                           " ".join(ceph.stdout.split()[:3]))
            endpoints[0] = direct
            if 1 in ctx.passes:
                proxy, endpoints[1] = start_proxy(
                    ctx, int(direct.rsplit(":", 1)[1]), ctx.delay_ms)

        for rnd in range(0 if args.zero_fill_only else ctx.rounds):
            for p in ctx.passes:
                # Alternate: each round starts one target further on.
                k = rnd % len(names)
                order = names[k:] + names[:k]
                for n in order:
                    t = next((t for t in targets if t.name == n), None)
                    if p == 1 and (t is None and n != "raw" or
                                   t is not None and not t.s3):
                        continue
                    if t is not None and t.s3 or n == "raw":
                        ctx.endpoint = endpoints[p]
                    tag = "%s-r%d" % (pass_short(p), rnd + 1)
                    log("round %d/%d, %s: %s" % (rnd + 1, ctx.rounds,
                                                 pass_short(p), n))
                    if n == "raw":
                        r = runner.raw(ctx.endpoint, tag)
                    else:
                        r = runner.run_target(t, tag)
                    log("  " + " ".join("%s=%s" % (k, fmt(v))
                                        for k, v in r.items()))
                    results.setdefault(p, {}).setdefault(n, []).append(r)

        # Zero-fill, without added latency: nbds3 with 4M pages.
        for t in targets:
            if isinstance(t, Nbds3Target) and t.page_size == 4 * MiB:
                if t.s3:
                    ctx.endpoint = endpoints[0]
                log("zero-fill: %s, %d MiB of zeros" % (t.name,
                                                         ZERO_FILL_MIB))
                ctx.zero_results[t.name] = r = runner.zero_fill(t, "zero")
                log("  %d objects stored, %d PUTs" % (r["zero_objects"],
                                                      r["zero_puts"]))

        # Memory bound: write mem_bytes through cache-size=256M.
        for p in [] if args.zero_fill_only else ctx.passes:
            for t in targets:
                if not isinstance(t, Nbds3Target) or \
                        (p == 1 and not t.s3) or \
                        (t.s3 and t.page_size != 4 * MiB):
                    continue
                mt = Nbds3Target(ctx, t.name, t.store, t.page_size,
                                 cache_size=256 * MiB,
                                 size=ctx.mem_bytes)
                if t.s3:
                    ctx.endpoint = endpoints[p]
                log("memory test, %s: %s, %s through cache-size=256M"
                    % (pass_short(p), t.name, fmt_size(ctx.mem_bytes)))
                r = runner.memory_test(mt, "mem-%s" % pass_short(p))
                log("  peak RSS %.0f MiB, %.0f MiB/s" % (r["mem_rss"],
                                                         r["mem_write"]))
                ctx.mem_results.setdefault(p, {})[t.name] = r
    finally:
        for d in list(ctx.daemons):
            d.stop()
        if s3:
            subprocess.run([ctx.s3server, "stop", os.path.join(ctx.work,
                                                                "rgw")],
                           env=ctx.env, stdout=subprocess.DEVNULL)

    elapsed = time.monotonic() - t_start
    ctx.header = ctx.header_lines()
    footer = ("elapsed %.1f min; load average at the end: %s"
              % (elapsed / 60, " ".join(open("/proc/loadavg").read()
                                         .split()[:3])))
    saved = {"meta": {"header": ctx.header, "footer": footer,
                      "order": ctx.order, "passes": ctx.passes,
                      "rounds": ctx.rounds, "quick": ctx.quick,
                      "size": ctx.size, "mem_bytes": ctx.mem_bytes,
                      "delay_ms": ctx.delay_ms,
                      "connections": ctx.connections},
             "results": {pass_short(p): v for p, v in results.items()},
             "memory": {pass_short(p): v
                        for p, v in ctx.mem_results.items()},
             "zero_fill": ctx.zero_results}
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(saved, f, indent=1)
    report(ctx, results, footer, args.out)


def report(ctx, results, footer, out):
    text = build_report(ctx, results, footer)
    txt = os.path.join(out, "results.txt")
    png = os.path.join(out, "results.png")
    with open(txt, "w") as f:
        f.write(text)
    write_chart(ctx, results, png)
    sys.stdout.write(text)
    log("wrote %s and %s" % (txt, png))


class Saved:
    """The parts of a Context that the report needs, from results.json."""

    def __init__(self, saved, work):
        meta = saved["meta"]
        self.header = meta["header"]
        self.order = meta["order"]
        self.passes = meta["passes"]
        self.rounds = meta["rounds"]
        self.quick = meta["quick"]
        self.size = meta["size"]
        self.mem_bytes = meta["mem_bytes"]
        self.delay_ms = meta["delay_ms"]
        self.connections = meta["connections"]
        self.work = work
        self.mem_results = {0 if k == "nodelay" else 1: v
                            for k, v in saved["memory"].items()}
        self.zero_results = saved.get("zero_fill", {})

    nbds3_names = Context.nbds3_names
    chart_title = Context.chart_title


def replot(path, out):
    """Write results.txt and results.png again from PATH (results.json)."""
    with open(path) as f:
        saved = json.load(f)
    results = {0 if k == "nodelay" else 1: v
               for k, v in saved["results"].items()}
    work = os.path.join(out, ".replot")
    os.makedirs(work, exist_ok=True)
    try:
        report(Saved(saved, work), results, saved["meta"]["footer"], out)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def on_signal(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, on_signal)
    try:
        main()
    except BenchError as e:
        log("FAILED: %s" % e)
        sys.exit(1)
    except KeyboardInterrupt:
        log("interrupted")
        sys.exit(130)
