#!/usr/bin/env python3
"""sqs_metrics.py - the requests whose counts test_sqs then reads from
txq-sqs's /metrics (sqs_test.sh asserts the exact values; keep the two in
step). Run against a txq-sqs of its own, started with --metrics-listen,
so that nothing else is counted. Environment: SQS_ENDPOINT, SQS_METRICS
(the metrics base URL), SQS_PREFIX, SQS_KEY_APP, SQS_SECRET_APP.

What it does, in this order (each line is one request):
  CreateQueue PREFIXm                              ok
  SendMessage                                      ok        sent 1
  SendMessageBatch (2 entries)                     ok        sent 2
  ReceiveMessage (max 10, no wait)                 ok        received 3
  DeleteMessage                                    ok        deleted 1
  DeleteMessage, the same handle again             ok        deleted 0
  DeleteMessageBatch (the other 2)                 ok        deleted 2
  GetQueueUrl of a queue that does not exist       QueueDoesNotExist
  SendMessage to a queue that does not exist       QueueDoesNotExist
  ListQueues with a wrong secret                   SignatureDoesNotMatch
  NoSuchAction... (signed, query protocol)         InvalidAction
  ReceiveMessage, a 2 s long poll (empty)          ok        received 0
During the long poll, txq_sqs_long_polls_waiting is 1.
"""
import os
import sys
import threading
import time
import urllib.error
import urllib.request

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

ENDPOINT = os.environ["SQS_ENDPOINT"]
METRICS = os.environ["SQS_METRICS"]
PREFIX = os.environ["SQS_PREFIX"]
KEY, SECRET = os.environ["SQS_KEY_APP"], os.environ["SQS_SECRET_APP"]


def fail(what):
    print("sqs_metrics.py: FAIL: " + what, file=sys.stderr)
    sys.exit(1)


def client(secret=SECRET):
    return boto3.client(
        "sqs", endpoint_url=ENDPOINT, region_name="us-east-1",
        aws_access_key_id=KEY, aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}, read_timeout=60))


def error_of(fn, **kw):
    try:
        fn(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"]
    return None


def gauge(name):
    with urllib.request.urlopen(METRICS + "/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.split(" ")[0] == name:
                return float(line.split(" ")[1])
    return None


sqs = client()
url = sqs.create_queue(QueueName=PREFIX + "m")["QueueUrl"]
sqs.send_message(QueueUrl=url, MessageBody="one")
r = sqs.send_message_batch(QueueUrl=url, Entries=[
    {"Id": "a", "MessageBody": "two"}, {"Id": "b", "MessageBody": "three"}])
if len(r.get("Successful", [])) != 2:
    fail("SendMessageBatch: %r" % r)
msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                           WaitTimeSeconds=0).get("Messages", [])
if len(msgs) != 3:
    fail("one ReceiveMessage gave %d messages, not 3" % len(msgs))
sqs.delete_message(QueueUrl=url, ReceiptHandle=msgs[0]["ReceiptHandle"])
# SQS answers a handle whose message is gone with success: nothing is
# deleted, and nothing may be counted.
sqs.delete_message(QueueUrl=url, ReceiptHandle=msgs[0]["ReceiptHandle"])
r = sqs.delete_message_batch(QueueUrl=url, Entries=[
    {"Id": "e%d" % i, "ReceiptHandle": m["ReceiptHandle"]}
    for i, m in enumerate(msgs[1:])])
if len(r.get("Successful", [])) != 2:
    fail("DeleteMessageBatch: %r" % r)

code = error_of(sqs.get_queue_url, QueueName=PREFIX + "nosuchqueue")
if code != "AWS.SimpleQueueService.NonExistentQueue" and \
        code != "QueueDoesNotExist":
    fail("GetQueueUrl of a missing queue: %r" % code)
code = error_of(sqs.send_message, MessageBody="x",
                QueueUrl=url.rsplit("/", 1)[0] + "/" + PREFIX + "nosuchqueue")
if code is None:
    fail("SendMessage to a missing queue succeeded")
code = error_of(client(secret="wrong-secret").list_queues)
if code != "SignatureDoesNotMatch":
    fail("a wrong secret: %r" % code)

# An action no SQS has: it must not become a label value of its own.
req = AWSRequest(method="POST", url=ENDPOINT + "/",
                 data=b"Action=NoSuchAction%sX&Version=2012-11-05"
                 % PREFIX.encode(),
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
SigV4Auth(Credentials(KEY, SECRET), "sqs", "us-east-1").add_auth(req)
try:
    urllib.request.urlopen(urllib.request.Request(
        req.url, data=req.body, headers=dict(req.headers)),
        timeout=10)
    fail("an unknown action succeeded")
except urllib.error.HTTPError as e:
    text = e.read().decode()
    if e.code != 400 or "InvalidAction" not in text:
        fail("an unknown action: %d %s" % (e.code, text))

# A long poll on the (now empty) queue: counted as waiting while it waits.
poll = threading.Thread(target=lambda: sqs.receive_message(
    QueueUrl=url, WaitTimeSeconds=2))
poll.start()
seen, end = None, time.monotonic() + 1.8
while time.monotonic() < end:
    seen = gauge("txq_sqs_long_polls_waiting")
    if seen == 1:
        break
    time.sleep(0.05)
poll.join()
if seen != 1:
    fail("txq_sqs_long_polls_waiting during a long poll: %r" % seen)
if gauge("txq_sqs_long_polls_waiting") != 0:
    fail("txq_sqs_long_polls_waiting after the long poll is not 0")
print("sqs_metrics.py: requests made; long_polls_waiting was 1 while one "
      "waited")
