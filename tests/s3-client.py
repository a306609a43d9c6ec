#!/usr/bin/python3
# SPDX-License-Identifier: MIT
#
# A tiny S3 client for the test harness (tests/s3-server.sh), independent of
# nbds3's own S3 code: it waits until a server answers a signed ListBuckets,
# creates buckets and lists them.  It uses Debian's python3-boto3, path-style
# addressing and SigV4, and reads the server from the environment that
# `s3-server.sh start-*` prints: S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY,
# S3_REGION.
#
# Usage: s3-client.py wait [--timeout SECONDS] [--pids "PID..."]
#        s3-client.py mkbucket NAME
#        s3-client.py ls [BUCKET]
# Exit status: 0 on success, 1 on an S3 or connection error, 2 on usage.

import argparse
import os
import sys
import time

import boto3
import botocore.config
import botocore.exceptions

# Errors that mean the server is up but refuses us: waiting will not help.
FATAL_CODES = {"SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied"}


def make_client(read_timeout=30):
    try:
        endpoint = os.environ["S3_ENDPOINT"]
        access_key = os.environ["S3_ACCESS_KEY"]
        secret_key = os.environ["S3_SECRET_KEY"]
    except KeyError as e:
        sys.exit("s3-client.py: %s is not set" % e.args[0])
    config = botocore.config.Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        retries={"max_attempts": 1},
        connect_timeout=2,
        read_timeout=read_timeout,
    )
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=os.environ.get("S3_REGION", "us-east-1"),
        config=config,
    )


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            # The state follows the parenthesised command name.
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def cmd_wait(args):
    client = make_client(read_timeout=5)
    pids = [int(p) for p in args.pids.split()]
    deadline = time.monotonic() + args.timeout
    last = "no attempt"
    while True:
        dead = [p for p in pids if not pid_alive(p)]
        if dead:
            print("s3-client.py: server process %s exited" %
                  " ".join(map(str, dead)), file=sys.stderr)
            return 1
        try:
            client.list_buckets()
            return 0
        except botocore.exceptions.ClientError as e:
            code = e.response.get("Error", {}).get("Code", "?")
            last = "%s (HTTP %s)" % (
                code, e.response["ResponseMetadata"].get("HTTPStatusCode"))
            if code in FATAL_CODES:
                print("s3-client.py: server refused ListBuckets: %s" % last,
                      file=sys.stderr)
                return 1
        except (botocore.exceptions.BotoCoreError, OSError) as e:
            last = str(e)
        if time.monotonic() >= deadline:
            print("s3-client.py: no S3 answer within %g s; last: %s" %
                  (args.timeout, last), file=sys.stderr)
            return 1
        time.sleep(0.1)


def cmd_mkbucket(args):
    make_client().create_bucket(Bucket=args.name)
    return 0


def cmd_ls(args):
    client = make_client()
    if args.bucket is None:
        for b in client.list_buckets()["Buckets"]:
            print(b["Name"])
        return 0
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=args.bucket):
        for obj in page.get("Contents", []):
            print("%12d %s" % (obj["Size"], obj["Key"]))
    return 0


def cmd_rmbucket(args):
    """Delete every object of the bucket, then the bucket."""
    client = make_client()
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=args.name):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=args.name,
                                  Delete={"Objects": keys, "Quiet": True})
    client.delete_bucket(Bucket=args.name)
    return 0


def main():
    parser = argparse.ArgumentParser(
        prog="s3-client.py",
        description="Tiny S3 client for the nbds3 test harness.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("wait", help="wait until ListBuckets answers")
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("--pids", default="",
                   help="fail at once if one of these processes exits")
    p.set_defaults(func=cmd_wait)
    p = sub.add_parser("mkbucket", help="create a bucket")
    p.add_argument("name")
    p.set_defaults(func=cmd_mkbucket)
    p = sub.add_parser("rmbucket", help="delete a bucket and its objects")
    p.add_argument("name")
    p.set_defaults(func=cmd_rmbucket)
    p = sub.add_parser("ls", help="list buckets, or the objects of a bucket")
    p.add_argument("bucket", nargs="?")
    p.set_defaults(func=cmd_ls)
    args = parser.parse_args()
    try:
        return args.func(args)
    except botocore.exceptions.ClientError as e:
        err = e.response.get("Error", {})
        print("s3-client.py: %s: %s %s" % (args.cmd, err.get("Code", "?"),
                                           err.get("Message", "")),
              file=sys.stderr)
        return 1
    except (botocore.exceptions.BotoCoreError, OSError) as e:
        print("s3-client.py: %s: %s" % (args.cmd, e), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
