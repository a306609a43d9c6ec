#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A loopback stand-in for the credential services nbds3 can use where
no real one exists here: the EC2 instance metadata service (IMDSv2, and
IMDSv1 when asked for), the container credentials endpoint (ECS, EKS Pod
Identity), and STS AssumeRoleWithWebIdentity (EKS IRSA).  It is not any
of them: it speaks just enough of their HTTP protocols for the tests, and
every credential it hands out is real, a 900-second AssumeRole of
$S3_ROLE_ARN from the test radosgw's STS (tests/sts-assume-role.py).

It declares an Expiration --expires-in seconds away (default: the real
one), so that a test sees nbds3 renew within seconds, although radosgw
refuses DurationSeconds under 900.

  PUT  /latest/api/token              IMDSv2 session token; requires
                                      X-aws-ec2-metadata-token-ttl-seconds
  GET  /latest/meta-data/iam/security-credentials/[ROLE]
                                      IMDS role name, then its JSON
                                      (Code, AccessKeyId, SecretAccessKey,
                                      Token, Expiration); requires
                                      X-aws-ec2-metadata-token unless
                                      --imds-v1 (401 otherwise, like IMDS
                                      with IMDSv1 disabled)
  GET  /container/creds               container credentials JSON;
                                      requires Authorization: --auth-token
                                      when one is given (401 otherwise)
  POST /sts                           AssumeRoleWithWebIdentity; requires
                                      WebIdentityToken=--web-token

One log line per request (--log): "cred-server: KIND STATUS [hand-out N
expires in S s]".  The port goes to --port-file.  It exits after
--max-seconds or on SIGTERM.
"""

import argparse
import datetime
import http.server
import importlib.util
import json
import os
import sys
import threading
import time
import urllib.parse
import uuid
from xml.sax.saxutils import escape

ROLE = "nbds3-test-role"
CREDS_PATH = "/latest/meta-data/iam/security-credentials/"

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "sts_assume_role", os.path.join(here, "sts-assume-role.py"))
sts = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sts)


class State:
    args = None
    log = None
    lock = threading.Lock()
    tokens = set()
    handouts = 0


def log(line):
    with State.lock:
        State.log.write("%.3f cred-server: %s\n" % (time.time(), line))
        State.log.flush()


def credentials():
    """Real credentials and the Expiration to declare."""
    c = sts.assume_role(900)
    exp = c["Expiration"]
    if State.args.expires_in is not None:
        exp = datetime.datetime.now(datetime.timezone.utc) + \
            datetime.timedelta(seconds=State.args.expires_in)
    with State.lock:
        State.handouts += 1
        n = State.handouts
    left = (exp - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    return c, sts.iso(exp), "hand-out %d expires in %d s" % (n, left)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        pass

    def answer(self, status, body, kind, note="",
               ctype="application/json"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        log("%s %d%s" % (kind, status, " " + note if note else ""))

    def json_creds(self, kind, imds):
        c, exp, note = credentials()
        d = {"AccessKeyId": c["AccessKeyId"],
             "SecretAccessKey": c["SecretAccessKey"],
             "Token": c["SessionToken"], "Expiration": exp}
        if imds:
            d = dict(Code="Success", Type="AWS-HMAC",
                     LastUpdated=sts.iso(datetime.datetime.now(
                         datetime.timezone.utc)), **d)
        self.answer(200, json.dumps(d), kind, note)

    def do_PUT(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        if self.path != "/latest/api/token":
            return self.answer(404, "", "put-unknown")
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        if not ttl or not ttl.isdigit():
            return self.answer(400, "", "imds-token-without-ttl")
        if State.args.no_token:
            return self.answer(403, "", "imds-token-refused")
        token = uuid.uuid4().hex
        with State.lock:
            State.tokens.add(token)
        self.answer(200, token, "imds-token", "ttl %s" % ttl, "text/plain")

    def imds_allowed(self):
        token = self.headers.get("X-aws-ec2-metadata-token")
        with State.lock:
            ok = token in State.tokens
        return ok or (token is None and State.args.imds_v1)

    def do_GET(self):
        if self.path.startswith(CREDS_PATH):
            v = "v2" if self.headers.get("X-aws-ec2-metadata-token") else "v1"
            if not self.imds_allowed():
                return self.answer(401, "", "imds-%s-refused" % v)
            role = self.path[len(CREDS_PATH):]
            if role == "":
                return self.answer(200, ROLE + "\n", "imds-%s-role" % v,
                                   ctype="text/plain")
            if role != ROLE:
                return self.answer(404, "", "imds-no-such-role")
            return self.json_creds("imds-%s-creds" % v, True)
        if self.path == "/container/creds":
            want = State.args.auth_token
            if want and self.headers.get("Authorization") != want:
                return self.answer(401, "", "container-refused")
            return self.json_creds("container-creds", False)
        self.answer(404, "", "get-unknown")

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(n).decode())
        if self.path != "/sts" or \
           form.get("Action") != ["AssumeRoleWithWebIdentity"]:
            return self.answer(400, "", "sts-unknown")
        if form.get("WebIdentityToken") != [State.args.web_token] or \
           not form.get("RoleArn") or not form.get("RoleSessionName"):
            return self.answer(
                400, "<ErrorResponse><Error><Code>InvalidIdentityToken"
                "</Code><Message>bad token</Message></Error></ErrorResponse>",
                "sts-refused", ctype="text/xml")
        c, exp, note = credentials()
        body = ("<AssumeRoleWithWebIdentityResponse>"
                "<AssumeRoleWithWebIdentityResult><Credentials>"
                "<AccessKeyId>%s</AccessKeyId>"
                "<SecretAccessKey>%s</SecretAccessKey>"
                "<SessionToken>%s</SessionToken>"
                "<Expiration>%s</Expiration>"
                "</Credentials></AssumeRoleWithWebIdentityResult>"
                "</AssumeRoleWithWebIdentityResponse>" %
                (escape(c["AccessKeyId"]), escape(c["SecretAccessKey"]),
                 escape(c["SessionToken"]), exp))
        self.answer(200, body, "sts-web-identity", note, "text/xml")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port-file", required=True)
    p.add_argument("--log")
    p.add_argument("--expires-in", type=int)
    p.add_argument("--imds-v1", action="store_true",
                   help="answer IMDS GETs without a session token")
    p.add_argument("--no-token", action="store_true",
                   help="refuse the IMDSv2 token PUT (403)")
    p.add_argument("--auth-token")
    p.add_argument("--web-token", default="nbds3-test-web-identity-token")
    p.add_argument("--max-seconds", type=int, default=600)
    State.args = p.parse_args()
    State.log = open(State.args.log, "a") if State.args.log else sys.stderr
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(State.args.port_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(State.args.port_file + ".tmp", State.args.port_file)
    threading.Timer(State.args.max_seconds, srv.shutdown).start()
    srv.serve_forever()
    os._exit(0)


if __name__ == "__main__":
    main()
