#!/usr/bin/env python3
"""sqs_movetask_restart.py - a message move task outlives its txq-sqs.

Run by tests/sqs/sqs_test.sh in two steps around a txq-sqs it kills:

  sqs_movetask_restart.py start STATE   N distinct bodies dead-lettered
      (maxReceiveCount 1, by visibility expiry), a move task back to the
      source at 3 a second, and a return once ListMessageMoveTasks shows
      some moved but not all; the queues, handle and bodies go to STATE.
  sqs_movetask_restart.py finish STATE  against the txq-sqs started after
      the kill: the task COMPLETED with ApproximateNumberOfMessagesMoved N,
      the dead-letter queue empty, and every body in the source exactly
      once.

Waits are bounded, never timed: a slow machine only waits longer.
Debian's boto3 1.26 predates the move-task actions: for it they are
signed with botocore's SigV4 signer and posted as query-protocol forms
(as sqs_dlq_boto3.py does).
"""
import collections
import json
import os
import sys
import time

import boto3
from botocore.config import Config

from sqs_movecall import Caller

STEP, STATE = sys.argv[1], sys.argv[2]
ENDPOINT = os.environ["SQS_ENDPOINT"]
PREFIX = os.environ["SQS_PREFIX"]
KEY, SECRET = os.environ["SQS_KEY_APP"], os.environ["SQS_SECRET_APP"]
N = 30
RATE = 3
failures = 0

sqs = boto3.client("sqs", endpoint_url=ENDPOINT, region_name="us-east-1",
                   aws_access_key_id=KEY, aws_secret_access_key=SECRET,
                   config=Config(retries={"max_attempts": 1}))


def check(cond, what):
    global failures
    if cond:
        print("  ok   " + what)
    else:
        failures += 1
        print("  FAIL " + what)


def done():
    print("sqs_movetask_restart %s: %s" % (
        STEP, "FAILED %d" % failures if failures else "all passed"))
    sys.exit(1 if failures else 0)


call = Caller(sqs, ENDPOINT, KEY, SECRET).call


def counts(url):
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return (int(a["ApproximateNumberOfMessages"]),
            int(a["ApproximateNumberOfMessagesNotVisible"]))


def task(arn, handle):
    tasks = call("ListMessageMoveTasks", SourceArn=arn,
                 MaxResults=10)["Results"]
    mine = [t for t in tasks if t["TaskHandle"] == handle]
    return mine[0] if mine else {}


def task_until(arn, handle, ok, secs):
    """The task's entry once ok(entry), polled (the last one after secs)."""
    end = time.time() + secs
    while True:
        t = task(arn, handle)
        if (t and ok(t)) or time.time() > end:
            return t
        time.sleep(0.1)


def start():
    dlq = sqs.create_queue(QueueName=PREFIX + "_dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(
        QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    src = sqs.create_queue(QueueName=PREFIX + "_src", Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn,
                                     "maxReceiveCount": "1"})})["QueueUrl"]
    bodies = ["%s body %02d" % (PREFIX, i) for i in range(N)]
    for i in range(0, N, 10):
        sqs.send_message_batch(QueueUrl=src, Entries=[
            {"Id": str(j), "MessageBody": b}
            for j, b in enumerate(bodies[i:i + 10])])
    # Each received once with a 1 s visibility; the receives after it
    # lapses move them to the dead-letter queue.
    seen = set()
    end = time.time() + 30
    while len(seen) < N and time.time() < end:
        for m in sqs.receive_message(QueueUrl=src, MaxNumberOfMessages=10,
                                     VisibilityTimeout=1).get("Messages", []):
            seen.add(m["Body"])
    check(seen == set(bodies), "all %d received once from the source"
          % len(seen))
    time.sleep(1.5)
    stray = []
    end = time.time() + 30
    while counts(dlq) != (N, 0) and time.time() < end:
        stray += sqs.receive_message(QueueUrl=src, MaxNumberOfMessages=10,
                                     VisibilityTimeout=1).get("Messages", [])
    check(stray == [], "the receives past maxReceiveCount returned nothing")
    check(counts(dlq) == (N, 0) and counts(src) == (0, 0),
          "the %d in the dead-letter queue, ready; the source empty: %s %s"
          % (N, counts(dlq), counts(src)))
    handle = call("StartMessageMoveTask", SourceArn=dlq_arn,
                  MaxNumberOfMessagesPerSecond=RATE)["TaskHandle"]
    t = task_until(dlq_arn, handle,
                   lambda t: t["ApproximateNumberOfMessagesMoved"] > 0, 30)
    check(t.get("Status") == "RUNNING"
          and 0 < t.get("ApproximateNumberOfMessagesMoved", 0) < N
          and t.get("ApproximateNumberOfMessagesToMove") == N,
          "task %s under way: %s" % (handle, t))
    with open(STATE, "w") as f:
        json.dump({"handle": handle, "dlq_arn": dlq_arn, "bodies": bodies,
                   "dlq": PREFIX + "_dlq", "src": PREFIX + "_src"}, f)
    done()


def finish():
    with open(STATE) as f:
        st = json.load(f)
    dlq = sqs.get_queue_url(QueueName=st["dlq"])["QueueUrl"]
    src = sqs.get_queue_url(QueueName=st["src"])["QueueUrl"]
    t = task_until(st["dlq_arn"], st["handle"],
                   lambda t: t["Status"] != "RUNNING", 60)
    check(t.get("Status") == "COMPLETED"
          and t.get("ApproximateNumberOfMessagesMoved") == N
          and t.get("ApproximateNumberOfMessagesToMove") == N
          and t.get("MaxNumberOfMessagesPerSecond") == RATE,
          "task %s completed by the new txq-sqs: %s" % (st["handle"], t))
    check(counts(dlq) == (0, 0), "the dead-letter queue is empty: %s"
          % (counts(dlq),))
    got = []
    empty = 0
    end = time.time() + 30
    while empty < 2 and time.time() < end:
        ms = sqs.receive_message(QueueUrl=src, MaxNumberOfMessages=10,
                                 VisibilityTimeout=60,
                                 WaitTimeSeconds=1).get("Messages", [])
        empty = 0 if ms else empty + 1
        for m in ms:
            got.append(m["Body"])
            sqs.delete_message(QueueUrl=src, ReceiptHandle=m["ReceiptHandle"])
    want = collections.Counter(st["bodies"])
    have = collections.Counter(got)
    check(have == want,
          "every body in the source exactly once (%d received; missing %s;"
          " extra %s)" % (len(got), sorted(want - have), sorted(have - want)))
    check(counts(src) == (0, 0) and counts(dlq) == (0, 0),
          "nothing left in either queue")
    sqs.set_queue_attributes(QueueUrl=src, Attributes={"RedrivePolicy": ""})
    for u in (src, dlq):
        sqs.delete_queue(QueueUrl=u)
    done()


{"start": start, "finish": finish}[STEP]()
