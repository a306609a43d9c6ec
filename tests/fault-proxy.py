#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A fault-injecting HTTP/1.1 proxy between nbds3 and a test's S3 server.

It owns one thing: the bytes between a client (nbds3's S3 client) and an
upstream S3 server on loopback, and the lies told in between.  Every
request is forwarded unchanged -- the Host header too, which the client
signed with SigV4 -- unless a rule says otherwise.  Both sides keep their
connections alive: each client connection gets its own upstream
connection, opened when needed.  Request bodies are framed by
Content-Length (or chunked), response bodies by Content-Length, chunked
transfer encoding (radosgw's ListObjectsV2) or the end of the connection;
HEAD, 1xx, 204 and 304 responses have none.  An "Expect: 100-continue"
is answered here, and the upstream's own interim answer is dropped.

Rules come from a file of JSON lines (--rules), re-read on every request
so that a test can add rules while it runs.  Blank lines and lines
starting with '#' are ignored.  A rule is an object:

  fault    empty-list | no-such-key | flip-bit | fail-status |
           wrong-region (required)
  method   the request method it applies to (default: any)
  path     a substring of the request target (path and query), or
  regex    a regular expression searched in it; the target is tried as
           sent and with its percent-escapes decoded (default: any)
  times    how many requests it applies to (default 1)
  id       a name for the fault log (default: rule-LINE)
  status, code, message     fail-status only: the answer (default 500,
           InternalError for 500, SlowDown for 503)
  byte, bit                 flip-bit only: which bit of the body to flip
           (default: bit 0 of the middle byte; byte counts modulo the
           body's length)
  region                    wrong-region only: the bucket's region it
           reports (default eu-west-1)

The faults:
  empty-list   a ListObjectsV2 (GET with list-type=2) is answered here
               with a valid, empty ListBucketResult (200, KeyCount 0);
  no-such-key  answered here with 404 and an S3 Error NoSuchKey (HEAD:
               404 without a body);
  flip-bit     forwarded; one bit of the response body is flipped, the
               length kept (a response without a body does not use it up);
  fail-status  answered here with STATUS and an S3 Error CODE;
  wrong-region answered here as AWS answers a request for a bucket of
               another region: 301 PermanentRedirect with the header
               x-amz-bucket-region: REGION, and an Error body naming an
               Endpoint (a host that does not resolve: a client must
               never follow it).

The first rule that matches and has uses left applies.  Each fault
applied is one line in the log (--log, default stderr):
  fault-proxy: fault ID KIND METHOD TARGET (use N of TIMES)
and with --log-requests every request is a line too (with --log-headers
ending in " headers: NAME,NAME,...", the request's header names in lower
case).

It listens on 127.0.0.1 on a free port, printed on stdout or written to
--port-file once it listens, and exits after --max-seconds (default 600)
or on SIGTERM.  The upstream must be on loopback too.
"""

import argparse
import asyncio
import http
import ipaddress
import json
import os
import re
import sys
import urllib.parse
import uuid
from xml.sax.saxutils import escape

MAX_HEAD = 64 * 1024
S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
FAULTS = ("empty-list", "no-such-key", "flip-bit", "fail-status",
          "wrong-region")
DEFAULT_CODES = {500: "InternalError", 503: "SlowDown"}


class Message:
    """One HTTP message as read: its head (start line and header lines,
    kept as sent) and its body (decoded, and as framed on the wire).
    """

    def __init__(self, head):
        self.head = head
        lines = head.decode("latin-1").split("\r\n")
        self.start = lines[0].split(" ", 2)
        self.headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                self.headers[name.strip().lower()] = value.strip()
        self.body = b""
        self.raw_body = b""
        self.chunked = False
        self.until_close = False

    def header(self, name):
        return self.headers.get(name, "")

    def has_token(self, name, token):
        values = self.header(name).lower().split(",")
        return token in (v.strip() for v in values)

    def wire(self):
        return self.head + self.raw_body


async def read_head(reader):
    """The next message head from READER, or None at a clean EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        if e.partial.strip():
            raise ConnectionError("connection closed within a head")
        return None
    except asyncio.LimitOverrunError:
        raise ConnectionError("message head longer than %d bytes" % MAX_HEAD)
    return Message(head)


async def read_chunked(reader, msg):
    raw, body = [], []
    while True:
        line = await reader.readuntil(b"\r\n")
        raw.append(line)
        size = int(line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            break
        data = await reader.readexactly(size + 2)
        raw.append(data)
        body.append(data[:-2])
    while True:                         # trailers, then the empty line
        line = await reader.readuntil(b"\r\n")
        raw.append(line)
        if line == b"\r\n":
            break
    msg.raw_body, msg.body, msg.chunked = b"".join(raw), b"".join(body), True


async def read_body(reader, msg, may_close):
    """Read the body of MSG as framed by its headers.  Without framing,
    a response (MAY_CLOSE) runs to the end of the connection; a request
    has no body.
    """
    if msg.has_token("transfer-encoding", "chunked"):
        await read_chunked(reader, msg)
    elif msg.header("content-length"):
        msg.body = await reader.readexactly(int(msg.header("content-length")))
        msg.raw_body = msg.body
    elif may_close:
        msg.body = msg.raw_body = await reader.read()
        msg.until_close = True


def set_body(msg, body):
    """Replace the body of MSG by BODY of the same length, in the framing
    it came with (chunked: as one chunk, without trailers).
    """
    msg.body = body
    if msg.chunked:
        msg.raw_body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    else:
        msg.raw_body = body


def response(status, body=b"", head_only=False, close=False,
             content_type="application/xml", headers=()):
    """The bytes of a response made here, with the extra HEADERS lines."""
    lines = [
        "HTTP/1.1 %d %s" % (status, http.HTTPStatus(status).phrase),
        "Content-Type: %s" % content_type,
        "Content-Length: %d" % (0 if head_only else len(body)),
        "x-amz-request-id: fault-proxy-%s" % uuid.uuid4().hex[:16],
        "Server: fault-proxy",
        "Connection: %s" % ("close" if close else "keep-alive"),
    ] + list(headers)
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only else head + body


def s3_error(code, message, resource):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code>'
            '<Message>%s</Message><Resource>%s</Resource>'
            '<RequestId>fault-proxy</RequestId></Error>'
            % (escape(code), escape(message), escape(resource))
            ).encode("utf-8")


def wrong_region(region, path):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error>'
            '<Code>PermanentRedirect</Code><Message>The bucket you are '
            'attempting to access must be addressed using the specified '
            'endpoint.</Message><Endpoint>s3.%s.fault-proxy.invalid'
            '</Endpoint><Resource>%s</Resource><RequestId>fault-proxy'
            '</RequestId></Error>' % (escape(region), escape(path))
            ).encode("utf-8")


def empty_listing(path, query):
    """A ListBucketResult with no keys for a ListObjectsV2 of PATH
    (path-style: /BUCKET) with QUERY (a dict of lists).
    """
    def param(name, default=""):
        return query.get(name, [default])[0]

    fields = []
    if param("encoding-type"):
        fields.append(("EncodingType", param("encoding-type")))
    fields += [("Name", urllib.parse.unquote(path).strip("/").split("/")[0]),
               ("Prefix", param("prefix"))]
    for name, field in (("delimiter", "Delimiter"),
                        ("continuation-token", "ContinuationToken"),
                        ("start-after", "StartAfter")):
        if param(name):
            fields.append((field, param(name)))
    fields += [("MaxKeys", param("max-keys", "1000")),
               ("IsTruncated", "false"), ("KeyCount", "0")]
    xml = "".join("<%s>%s</%s>" % (f, escape(v), f) for f, v in fields)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<ListBucketResult xmlns="%s">%s</ListBucketResult>'
            % (S3_NS, xml)).encode("utf-8")


class Rules:
    """The rules file, read again for every request, and how often each
    rule (by line number and text) has been applied.
    """

    def __init__(self, path, log):
        self.path = path
        self.log = log
        self.used = {}

    def load(self):
        if not self.path:
            return []
        try:
            with open(self.path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return []
        rules = []
        for n, line in enumerate(lines, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                rule = json.loads(line)
                if rule.get("fault") not in FAULTS:
                    raise ValueError("fault must be one of %s"
                                     % ", ".join(FAULTS))
                if "regex" in rule:
                    re.compile(rule["regex"])
            except (ValueError, re.error) as e:
                self.log("rules %s line %d ignored: %s" % (self.path, n, e))
                continue
            rule.setdefault("id", "rule-%d" % n)
            rules.append(((n, line), rule))
        return rules

    @staticmethod
    def matches(rule, method, target):
        if rule.get("method", method).upper() != method:
            return False
        if rule["fault"] == "empty-list" and (
                method != "GET" or "list-type=2" not in target):
            return False
        forms = (target, urllib.parse.unquote(target))
        if "path" in rule:
            return any(rule["path"] in t for t in forms)
        if "regex" in rule:
            return any(re.search(rule["regex"], t) for t in forms)
        return True

    def find(self, method, target):
        """The first rule for METHOD TARGET with uses left, as (key,
        rule), or None.
        """
        for key, rule in self.load():
            if (self.used.get(key, 0) < int(rule.get("times", 1)) and
                    self.matches(rule, method, target)):
                return key, rule
        return None

    def use(self, key, rule, method, target):
        self.used[key] = self.used.get(key, 0) + 1
        self.log("fault %s %s %s %s (use %d of %d)"
                 % (rule["id"], rule["fault"], method, target,
                    self.used[key], int(rule.get("times", 1))))


class Proxy:
    def __init__(self, upstream, rules, log, log_requests, log_headers=False):
        self.upstream = upstream        # (host, port)
        self.rules = rules
        self.log = log
        self.log_requests = log_requests
        self.log_headers = log_headers

    async def serve(self, creader, cwriter):
        up = None
        try:
            while True:
                req = await read_head(creader)
                if req is None:
                    break
                if (req.has_token("expect", "100-continue") and
                        req.header("content-length") not in ("", "0")):
                    cwriter.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                await read_body(creader, req, False)
                up, resp = await self.answer(req, up)
                cwriter.write(resp.wire() if isinstance(resp, Message)
                              else resp)
                await cwriter.drain()
                close = req.has_token("connection", "close")
                if isinstance(resp, Message):
                    close = close or resp.until_close or resp.has_token(
                        "connection", "close")
                if close:
                    break
        except (OSError, ValueError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError) as e:
            self.log("connection dropped: %s" % (e or type(e).__name__))
        finally:
            if up:
                up[1].close()
            cwriter.close()

    async def answer(self, req, up):
        """The answer to REQ: bytes made here or the upstream's Message,
        with the upstream connection to use next.
        """
        method, target = req.start[0].upper(), req.start[1]
        path, _, query = target.partition("?")
        head_only = method == "HEAD"
        found = self.rules.find(method, target)
        kind = found[1]["fault"] if found else None
        resp = None

        if kind == "empty-list":
            resp = response(200, empty_listing(
                path, urllib.parse.parse_qs(query)))
        elif kind == "no-such-key":
            resp = response(404, s3_error(
                "NoSuchKey", "The specified key does not exist.", path),
                head_only)
        elif kind == "fail-status":
            status = int(found[1].get("status", 500))
            code = found[1].get("code", DEFAULT_CODES.get(status,
                                                          "InternalError"))
            resp = response(status, s3_error(
                code, found[1].get("message", "fault-proxy: " + code), path),
                head_only)
        elif kind == "wrong-region":
            region = found[1].get("region", "eu-west-1")
            resp = response(301, wrong_region(region, path), head_only,
                            headers=["x-amz-bucket-region: %s" % region])
        if resp is not None:
            self.rules.use(*found, method, target)
            self.log_request(method, target, "%s (fault)" % kind, req)
            return up, resp

        up, resp = await self.forward(req, up, head_only)
        if kind == "flip-bit" and resp.body:
            body = bytearray(resp.body)
            i = int(found[1].get("byte", len(body) // 2)) % len(body)
            body[i] ^= 1 << int(found[1].get("bit", 0))
            set_body(resp, bytes(body))
            self.rules.use(*found, method, target)
        self.log_request(method, target, "%s %s (%d bytes)"
                         % (resp.start[1], "flipped" if kind == "flip-bit"
                            and resp.body else "forwarded", len(resp.body)),
                         req)
        return up, resp

    async def forward(self, req, up, head_only):
        """Send REQ upstream (on UP, or a new connection) and read the
        response.  A kept-alive connection that the upstream closed before
        answering is replaced once.
        """
        for attempt in (1, 2):
            reused = up is not None
            if up is not None and up[0].at_eof():
                up[1].close()
                up, reused = None, False
            if up is None:
                up = await asyncio.open_connection(*self.upstream,
                                                   limit=MAX_HEAD)
            up[1].write(req.wire())
            try:
                await up[1].drain()
                resp = await read_head(up[0])
                while resp is not None and resp.start[1].startswith("1"):
                    resp = await read_head(up[0])   # 100 Continue: dropped
            except ConnectionError:
                resp = None
            if resp is not None:
                break
            up[1].close()
            up = None
            if not reused or attempt == 2:
                raise ConnectionError("upstream closed without an answer")
        if not (head_only or resp.start[1] in ("204", "304")):
            await read_body(up[0], resp, True)
        if resp.until_close or resp.has_token("connection", "close"):
            up[1].close()
            up = None
        return up, resp

    def log_request(self, method, target, what, req):
        if self.log_requests:
            names = ""
            if self.log_headers:
                names = " headers: " + ",".join(sorted(req.headers))
            self.log("%s %s -> %s%s" % (method, target, what, names))


def loopback(url):
    u = urllib.parse.urlsplit(url)
    if u.scheme != "http" or not u.hostname or not u.port:
        raise ValueError("--upstream: use http://127.0.0.1:PORT")
    if not ipaddress.ip_address(u.hostname).is_loopback:
        raise ValueError("--upstream: %s is not on loopback" % u.hostname)
    return u.hostname, u.port


async def main(args):
    log_file = open(args.log, "a", buffering=1) if args.log else sys.stderr

    def log(line):
        print("fault-proxy: " + line, file=log_file, flush=True)

    proxy = Proxy(loopback(args.upstream), Rules(args.rules, log), log,
                  args.log_requests, args.log_headers)
    server = await asyncio.start_server(proxy.serve, "127.0.0.1", args.port,
                                        limit=MAX_HEAD)
    port = server.sockets[0].getsockname()[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, args.port_file)
    else:
        print(port, flush=True)
    log("listening on 127.0.0.1:%d, upstream %s" % (port, args.upstream))
    async with server:
        await asyncio.sleep(args.max_seconds)
    log("exiting after %d s (--max-seconds)" % args.max_seconds)


def parse_args():
    p = argparse.ArgumentParser(
        description="A fault-injecting HTTP/1.1 proxy for nbds3's tests.")
    p.add_argument("--upstream", required=True,
                   help="the S3 server, http://127.0.0.1:PORT")
    p.add_argument("--rules", help="file of rules, JSON lines")
    p.add_argument("--port", type=int, default=0,
                   help="port to listen on (default: a free one)")
    p.add_argument("--port-file", help="write the port here, not stdout")
    p.add_argument("--log", help="log file (default: stderr)")
    p.add_argument("--log-headers", action="store_true",
                   help="with --log-requests: name each request's headers")
    p.add_argument("--log-requests", action="store_true",
                   help="log every request, not only faults")
    p.add_argument("--max-seconds", type=int, default=600,
                   help="exit after this long (default 600)")
    return p.parse_args()


if __name__ == "__main__":
    try:
        asyncio.run(main(parse_args()))
    except ValueError as e:
        sys.exit("fault-proxy: %s" % e)
    except KeyboardInterrupt:
        pass
