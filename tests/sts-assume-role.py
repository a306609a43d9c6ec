#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Real temporary credentials from the test radosgw's STS, for the
credential-chain tests: AssumeRole of $S3_ROLE_ARN, signed with the test
user's keys ($S3_ENDPOINT, $S3_ACCESS_KEY, $S3_SECRET_KEY), by boto3, an
independent client.

As a program it is a credential_process: it prints the AWS CLI's JSON
(Version 1, AccessKeyId, SecretAccessKey, SessionToken, Expiration) on
stdout, and appends one line per call to $STS_PROCESS_LOG if set.
--expires-in SECS declares an Expiration that many seconds away instead
of the real one (radosgw refuses DurationSeconds < 900, so renewal tests
declare a nearer one); --fail makes it exit 1 without output.

cred-server.py imports assume_role() from it.
"""

import argparse
import datetime
import json
import os
import sys
import time

ROLE_ARN = "arn:aws:iam:::role/nbds3-test-role"


def assume_role(duration=900):
    """A dict of AccessKeyId, SecretAccessKey, SessionToken, Expiration
    (datetime) from radosgw's STS."""
    import boto3
    sts = boto3.client(
        "sts", endpoint_url=os.environ["S3_ENDPOINT"],
        aws_access_key_id=os.environ["S3_ACCESS_KEY"],
        aws_secret_access_key=os.environ["S3_SECRET_KEY"],
        region_name=os.environ.get("S3_REGION", "us-east-1"))
    r = sts.assume_role(RoleArn=os.environ.get("S3_ROLE_ARN", ROLE_ARN),
                        RoleSessionName="nbds3-test-%d" % os.getpid(),
                        DurationSeconds=duration)
    return r["Credentials"]


def iso(t):
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--expires-in", type=int)
    ap.add_argument("--fail", action="store_true")
    a = ap.parse_args()
    if a.fail:
        print("sts-assume-role.py: failing as asked", file=sys.stderr)
        return 1
    c = assume_role()
    exp = c["Expiration"]
    if a.expires_in is not None:
        exp = datetime.datetime.now(datetime.timezone.utc) + \
            datetime.timedelta(seconds=a.expires_in)
    log = os.environ.get("STS_PROCESS_LOG")
    if log:
        with open(log, "a") as f:
            f.write("%.3f credential_process: AssumeRole, %s\n" %
                    (time.time(), iso(exp)))
    json.dump({"Version": 1, "AccessKeyId": c["AccessKeyId"],
               "SecretAccessKey": c["SecretAccessKey"],
               "SessionToken": c["SessionToken"],
               "Expiration": iso(exp)}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
