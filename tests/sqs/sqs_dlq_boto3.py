#!/usr/bin/env python3
"""sqs_dlq_boto3.py - dead-letter queues through txq-sqs with boto3.

Run by tests/sqs/sqs_test.sh (which starts txq-sqs and exports SQS_*),
once per protocol. RedrivePolicy and its errors, a message moved to the
dead-letter queue once its receives pass maxReceiveCount (by visibility
expiry), ListDeadLetterSourceQueues, a message move task back to the
source, one to another queue cancelled while it runs, and their errors.
Debian's boto3 1.26 predates the move-task actions: for it they are
signed and posted as query-protocol forms with botocore's own SigV4
signer, and the XML answer is read back, so the query protocol is what
is tested either way.
"""
import json
import os
import sys
import time

import boto3
from botocore.config import Config

from sqs_movecall import Caller, Refused

EXPECT = sys.argv[1]
ENDPOINT = os.environ["SQS_ENDPOINT"]
PREFIX = os.environ["SQS_PREFIX"]
KEY, SECRET = os.environ["SQS_KEY_APP"], os.environ["SQS_SECRET_APP"]
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


call = Caller(sqs, ENDPOINT, KEY, SECRET).call


def code_of(action, **params):
    try:
        call(action, **params)
    except Refused as e:
        return e.code, e.message
    return None, ""


def arn_of(url):
    return sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def ready(url):
    return int(sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        ["Attributes"]["ApproximateNumberOfMessages"])


def task_until(arn, handle, done, secs=30):
    """The task's entry once done(entry), polled (fails after secs)."""
    end = time.time() + secs
    while True:
        tasks = call("ListMessageMoveTasks", SourceArn=arn,
                     MaxResults=10)["Results"]
        mine = [t for t in tasks if t["TaskHandle"] == handle]
        if mine and done(mine[0]):
            return mine[0]
        if time.time() > end:
            return mine[0] if mine else {}
        time.sleep(0.1)


protocol = sqs.meta.service_model.protocol
check(protocol == EXPECT, "boto3 %s speaks %s" % (boto3.__version__, protocol))

# --- RedrivePolicy ----------------------------------------------------
dlq = sqs.create_queue(QueueName=PREFIX + "_dlq")["QueueUrl"]
dlq_arn = arn_of(dlq)
policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
src = sqs.create_queue(QueueName=PREFIX + "_src",
                       Attributes={"RedrivePolicy": policy})["QueueUrl"]
src_arn = arn_of(src)
got = json.loads(sqs.get_queue_attributes(
    QueueUrl=src, AttributeNames=["All"])["Attributes"]["RedrivePolicy"])
check(got == {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2},
      "GetQueueAttributes: RedrivePolicy %s" % got)
check("RedrivePolicy" not in sqs.get_queue_attributes(
    QueueUrl=dlq, AttributeNames=["All"])["Attributes"],
    "a queue without one shows none")
same = sqs.create_queue(QueueName=PREFIX + "_src",
                        Attributes={"RedrivePolicy": policy})["QueueUrl"]
check(same == src, "CreateQueue again with the same RedrivePolicy: same URL")

fifo = sqs.create_queue(QueueName=PREFIX + "_f.fifo",
                        Attributes={"FifoQueue": "true"})["QueueUrl"]
bad = [
    ("not JSON", "{", "InvalidParameterValue", "RedrivePolicy"),
    ("no maxReceiveCount", json.dumps({"deadLetterTargetArn": dlq_arn}),
     "InvalidParameterValue", "maxReceiveCount"),
    ("maxReceiveCount 0", json.dumps({"deadLetterTargetArn": dlq_arn,
                                      "maxReceiveCount": 0}),
     "InvalidParameterValue", "maxReceiveCount"),
    ("an unknown target",
     json.dumps({"deadLetterTargetArn": dlq_arn + "_nope",
                 "maxReceiveCount": 3}),
     "InvalidParameterValue", "does not exist"),
    ("a target of another kind",
     json.dumps({"deadLetterTargetArn": arn_of(fifo), "maxReceiveCount": 3}),
     "InvalidParameterValue", "standard queue"),
    ("itself", json.dumps({"deadLetterTargetArn": src_arn,
                           "maxReceiveCount": 3}),
     "InvalidParameterValue", "its own"),
]
for what, value, want, needle in bad:
    code, msg = code_of("SetQueueAttributes", QueueUrl=src,
                        Attributes={"RedrivePolicy": value})
    check(code == want and needle in msg,
          "RedrivePolicy %s: %s (%s)" % (what, code, msg[:70]))
code, msg = code_of("SetQueueAttributes", QueueUrl=dlq, Attributes={
    "RedrivePolicy": json.dumps({"deadLetterTargetArn": src_arn,
                                 "maxReceiveCount": 3})})
check(code == "InvalidParameterValue" and "cycle" in msg,
      "a cycle is refused: %s" % msg[:70])
got = json.loads(sqs.get_queue_attributes(
    QueueUrl=src, AttributeNames=["RedrivePolicy"])["Attributes"]
    ["RedrivePolicy"])
check(got["maxReceiveCount"] == 2, "the refusals changed nothing")
code, _ = code_of("DeleteQueue", QueueUrl=dlq)
check(code == "InvalidParameterValue",
      "DeleteQueue of a dead-letter queue in use: %s" % code)

# --- RedriveAllowPolicy -----------------------------------------------
# Which queues may name a queue as their dead-letter queue (txq's
# dead_letter_sources). src already names dlq: a policy set later leaves
# that alone, and applies to queues that name it from then on.
allow = sqs.create_queue(QueueName=PREFIX + "_allowed")["QueueUrl"]
other = sqs.create_queue(QueueName=PREFIX + "_other")["QueueUrl"]
to_dlq = {"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn,
                                       "maxReceiveCount": 5})}
by_queue = json.dumps({"redrivePermission": "byQueue",
                       "sourceQueueArns": [arn_of(allow)]})
sqs.set_queue_attributes(QueueUrl=dlq,
                         Attributes={"RedriveAllowPolicy": by_queue})
got = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["All"]
                               )["Attributes"].get("RedriveAllowPolicy")
check(got is not None and json.loads(got) == json.loads(by_queue),
      "GetQueueAttributes: RedriveAllowPolicy %s" % got)
code, msg = code_of("SetQueueAttributes", QueueUrl=other, Attributes=to_dlq)
check(code == "InvalidParameterValue" and "does not allow" in msg,
      "byQueue: a queue not listed cannot name it (%s: %s)" % (code, msg[:80]))
code, _ = code_of("SetQueueAttributes", QueueUrl=allow, Attributes=to_dlq)
check(code is None, "byQueue: the listed queue can (%s)" % code)
code, _ = code_of("CreateQueue", QueueName=PREFIX + "_dlq",
                  Attributes={"RedriveAllowPolicy": by_queue})
check(code is None, "CreateQueue again with the same RedriveAllowPolicy")
code, _ = code_of("CreateQueue", QueueName=PREFIX + "_dlq", Attributes={
    "RedriveAllowPolicy": json.dumps({"redrivePermission": "denyAll"})})
check(code == "QueueAlreadyExists",
      "CreateQueue again with another RedriveAllowPolicy: %s" % code)
sqs.set_queue_attributes(QueueUrl=dlq, Attributes={
    "RedriveAllowPolicy": json.dumps({"redrivePermission": "denyAll"})})
code, _ = code_of("SetQueueAttributes", QueueUrl=other, Attributes=to_dlq)
check(code == "InvalidParameterValue", "denyAll: refused (%s)" % code)
got = json.loads(sqs.get_queue_attributes(
    QueueUrl=src, AttributeNames=["RedrivePolicy"])["Attributes"]
    ["RedrivePolicy"])
check(got["deadLetterTargetArn"] == dlq_arn,
      "a queue that named it before keeps it")
bad_allow = [
    ("not JSON", "{"),
    ("no redrivePermission", json.dumps({"sourceQueueArns": []})),
    ("an unknown permission", json.dumps({"redrivePermission": "some"})),
    ("byQueue without sources", json.dumps({"redrivePermission": "byQueue"})),
    ("sources with allowAll", json.dumps({"redrivePermission": "allowAll",
                                          "sourceQueueArns": [src_arn]})),
    ("11 sources", json.dumps({"redrivePermission": "byQueue",
                               "sourceQueueArns": [src_arn] * 11})),
    ("another account's ARN", json.dumps({
        "redrivePermission": "byQueue",
        "sourceQueueArns": [src_arn.replace(":000000000000:",
                                            ":111111111111:")]})),
]
for what, value in bad_allow:
    code, msg = code_of("SetQueueAttributes", QueueUrl=dlq,
                        Attributes={"RedriveAllowPolicy": value})
    check(code == "InvalidAttributeValue" and "RedriveAllowPolicy" in msg,
          "RedriveAllowPolicy %s: %s" % (what, code))
got = json.loads(sqs.get_queue_attributes(
    QueueUrl=dlq, AttributeNames=["RedriveAllowPolicy"])["Attributes"]
    ["RedriveAllowPolicy"])
check(got == {"redrivePermission": "denyAll"}, "the refusals changed nothing")
sqs.set_queue_attributes(QueueUrl=dlq, Attributes={
    "RedriveAllowPolicy": json.dumps({"redrivePermission": "allowAll"})})
check("RedriveAllowPolicy" not in sqs.get_queue_attributes(
    QueueUrl=dlq, AttributeNames=["All"])["Attributes"],
    "allowAll: any queue again, shown as no policy")
for q in (allow, other):
    sqs.set_queue_attributes(QueueUrl=q, Attributes={"RedrivePolicy": ""})
    sqs.delete_queue(QueueUrl=q)

# --- redrive after maxReceiveCount ------------------------------------
sent = sqs.send_message(QueueUrl=src, MessageBody="poison")["MessageId"]
counts = []
for i in range(2):
    if i:
        time.sleep(1.5)  # past the 1 s visibility of the receive before
    m = sqs.receive_message(QueueUrl=src, VisibilityTimeout=1,
                            AttributeNames=["ApproximateReceiveCount"]
                            ).get("Messages", [])
    counts.append(m[0]["Attributes"]["ApproximateReceiveCount"] if m else None)
check(counts == ["1", "2"], "received twice: counts %s" % counts)
time.sleep(1.5)
m = sqs.receive_message(QueueUrl=src).get("Messages", [])
check(m == [], "a third receive finds nothing: the message moved")
m = sqs.receive_message(QueueUrl=dlq, VisibilityTimeout=1).get("Messages", [])
check(len(m) == 1 and m[0]["MessageId"] == sent and m[0]["Body"] == "poison",
      "in the dead-letter queue, same MessageId %s and body" % sent)

srcs = call("ListDeadLetterSourceQueues", QueueUrl=dlq).get("queueUrls")
check(srcs == [src], "ListDeadLetterSourceQueues: %s" % srcs)
check(call("ListDeadLetterSourceQueues", QueueUrl=src).get("queueUrls", [])
      == [], "a queue no one names has no sources")

# --- a move task back to the source -----------------------------------
time.sleep(1.5)  # the dead-letter queue's receive above lapses
code, _ = code_of("StartMessageMoveTask", SourceArn=src_arn)
check(code == "InvalidParameterValue",
      "StartMessageMoveTask out of a queue that is no DLQ: %s" % code)
code, _ = code_of("StartMessageMoveTask", SourceArn=dlq_arn + "_nope")
check(code == "ResourceNotFoundException", "an unknown source: %s" % code)
handle = call("StartMessageMoveTask", SourceArn=dlq_arn)["TaskHandle"]
t = task_until(dlq_arn, handle, lambda t: t["Status"] != "RUNNING")
check(t.get("Status") == "COMPLETED"
      and t.get("ApproximateNumberOfMessagesMoved") == 1
      and t.get("ApproximateNumberOfMessagesToMove") == 1
      and t.get("SourceArn") == dlq_arn and "DestinationArn" not in t
      and t.get("StartedTimestamp", 0) > 1e12,
      "ListMessageMoveTasks: %s" % t)
m = sqs.receive_message(QueueUrl=src).get("Messages", [])
check(len(m) == 1 and m[0]["MessageId"] == sent,
      "back in the source queue, same MessageId")
if m:
    sqs.delete_message(QueueUrl=src, ReceiptHandle=m[0]["ReceiptHandle"])

# --- a slow task to another queue, cancelled --------------------------
other = sqs.create_queue(QueueName=PREFIX + "_other")["QueueUrl"]
for i in range(5):
    sqs.send_message(QueueUrl=dlq, MessageBody="m%d" % i)
handle = call("StartMessageMoveTask", SourceArn=dlq_arn,
              DestinationArn=arn_of(other),
              MaxNumberOfMessagesPerSecond=1)["TaskHandle"]
code, msg = code_of("StartMessageMoveTask", SourceArn=dlq_arn)
check(code == "InvalidParameterValue" and "running" in msg,
      "a second task of one queue: %s" % code)
moved = call("CancelMessageMoveTask",
             TaskHandle=handle)["ApproximateNumberOfMessagesMoved"]
t = task_until(dlq_arn, handle, lambda t: t["Status"] == "CANCELLED")
check(t.get("Status") == "CANCELLED"
      and t.get("ApproximateNumberOfMessagesMoved") == int(moved)
      and t.get("MaxNumberOfMessagesPerSecond") == 1
      and t.get("DestinationArn") == arn_of(other),
      "cancelled after %s of 5: %s" % (moved, t))
check(ready(other) == int(moved) and ready(dlq) == 5 - int(moved),
      "moved %s, the rest stayed: nothing lost or doubled" % moved)
code, _ = code_of("CancelMessageMoveTask", TaskHandle=handle)
check(code == "InvalidParameterValue", "cancelled twice: %s" % code)
code, _ = code_of("CancelMessageMoveTask", TaskHandle="999999999")
check(code == "ResourceNotFoundException", "an unknown handle: %s" % code)
code, _ = code_of("StartMessageMoveTask", SourceArn=dlq_arn,
                  MaxNumberOfMessagesPerSecond=501)
check(code == "InvalidParameterValue", "a rate over 500: %s" % code)

# --- removed with an empty string -------------------------------------
sqs.set_queue_attributes(QueueUrl=src, Attributes={"RedrivePolicy": ""})
check("RedrivePolicy" not in sqs.get_queue_attributes(
    QueueUrl=src, AttributeNames=["All"])["Attributes"],
    "RedrivePolicy removed")
check(call("ListDeadLetterSourceQueues", QueueUrl=dlq).get("queueUrls", [])
      == [], "no source left")

for u in (src, dlq, other, fifo):
    sqs.delete_queue(QueueUrl=u)
print("sqs_dlq_boto3 (%s): %s" % (protocol, "FAILED %d" % failures
                                  if failures else "all passed"))
sys.exit(1 if failures else 0)
