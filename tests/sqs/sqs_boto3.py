#!/usr/bin/env python3
"""sqs_boto3.py - txq-sqs through boto3, as an SQS user would call it.

Run by tests/sqs/sqs_test.sh, which starts txq-sqs and exports SQS_*.
Argument: the protocol this boto3 is expected to speak (query or json);
the script checks that it does. botocore verifies no MD5 of SQS's (not
the body's, not the attributes'), so this script checks MD5OfMessageBody,
MD5OfBody and MD5OfMessageAttributes itself, against an implementation of
its own (sqs_digest.py, checked first against digests published for SQS).
"""
import hashlib
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sqs_digest import md5_attrs  # noqa: E402

EXPECT = sys.argv[1]
ENDPOINT = os.environ["SQS_ENDPOINT"]
PREFIX = os.environ["SQS_PREFIX"]
LOG = os.environ["SQS_LOG"]
DSN = os.environ["SQS_DSN"]
SCHEMA = os.environ["SQS_SCHEMA"]
failures = 0


def psql(sql):
    return subprocess.run(["psql", DSN, "-XAtq", "-v", "ON_ERROR_STOP=1",
                           "-c", sql], check=True, capture_output=True,
                          text=True).stdout.strip()


def client(key="APP", secret=None):
    return boto3.client(
        "sqs",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id=os.environ["SQS_KEY_" + key],
        aws_secret_access_key=secret or os.environ["SQS_SECRET_" + key],
        config=Config(retries={"max_attempts": 1}, read_timeout=60),
    )


def check(cond, what):
    global failures
    if cond:
        print("  ok   " + what)
    else:
        failures += 1
        print("  FAIL " + what)


def error_of(fn, *args, **kw):
    try:
        fn(*args, **kw)
    except ClientError as e:
        return (e.response["Error"]["Code"],
                e.response["ResponseMetadata"]["HTTPStatusCode"],
                e.response["Error"].get("Message", ""))
    return (None, 200, "")


def wait_log(*words, seconds=60):
    """Wait until a line of the server's log has every one of words."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        with open(LOG) as f:
            if any(all(w in l for w in words) for l in f):
                return True
        time.sleep(0.05)
    return False


sqs = client()
other = client()  # a second client, for the long poll's sender
protocol = sqs.meta.service_model.protocol
check(protocol == EXPECT, "boto3 %s speaks %s (want %s)"
      % (boto3.__version__, protocol, EXPECT))

# --- queues -----------------------------------------------------------
name = PREFIX + "_jobs"
url = sqs.create_queue(QueueName=name,
                       Attributes={"VisibilityTimeout": "5"})["QueueUrl"]
check(url == "%s/000000000000/%s" % (ENDPOINT, name), "CreateQueue: " + url)
again = sqs.create_queue(QueueName=name,
                         Attributes={"VisibilityTimeout": "5"})["QueueUrl"]
check(again == url, "CreateQueue again, same attributes: same URL")
code, status, _ = error_of(sqs.create_queue, QueueName=name,
                           Attributes={"VisibilityTimeout": "7"})
check(code == "QueueAlreadyExists" and status == 400,
      "CreateQueue, other attributes: QueueAlreadyExists (%s %s)"
      % (code, status))
check(sqs.get_queue_url(QueueName=name)["QueueUrl"] == url, "GetQueueUrl")
code, status, _ = error_of(sqs.get_queue_url, QueueName=PREFIX + "_nope")
check(code == "AWS.SimpleQueueService.NonExistentQueue" and status == 400,
      "GetQueueUrl of an unknown queue: NonExistentQueue (%s)" % code)
urls = sqs.list_queues(QueueNamePrefix=PREFIX + "_jo").get("QueueUrls", [])
check(urls == [url], "ListQueues with a prefix: %s" % urls)
# SQS's names are txq's: capitals and -, up to 80 characters, the same
# name in txq; names outside the rule are refused.
dash = PREFIX + "_Billing-Events"
durl = sqs.create_queue(QueueName=dash)["QueueUrl"]
check(durl.endswith("/" + dash), "CreateQueue with capitals and -: " + durl)
check(psql("select kind from %s.queues where name = '%s'" % (SCHEMA, dash))
      == "standard", "the txq queue has the SQS name")
sqs.send_message(QueueUrl=durl, MessageBody="dash")
got = sqs.receive_message(QueueUrl=durl).get("Messages", [])
check(len(got) == 1 and got[0]["Body"] == "dash", "a message through it")
sqs.delete_message(QueueUrl=durl, ReceiptHandle=got[0]["ReceiptHandle"])
sqs.delete_queue(QueueUrl=durl)
long80 = (PREFIX + "_" + "L" * 80)[:80]
lurl = sqs.create_queue(QueueName=long80)["QueueUrl"]
check(lurl.endswith("/" + long80), "an 80-character name")
sqs.delete_queue(QueueUrl=lurl)
for bad in (long80 + "x", PREFIX + "_a.b", PREFIX + "_caf\u00e9",
            PREFIX + "_a b", ".fifo"):
    code, _, msg = error_of(sqs.create_queue, QueueName=bad)
    check(code == "InvalidParameterValue",
          "CreateQueue %r refused: %s %s" % (bad[:30], code, msg[:60]))
code, _, _ = error_of(sqs.create_queue, QueueName=PREFIX + "_std.fifo",
                      Attributes={"FifoQueue": "false"})
check(code == "InvalidAttributeValue",
      "a standard queue named .fifo is refused (%s)" % code)

# --- send, receive, delete --------------------------------------------
body = "h\u00e9llo\r\nw\u00f6rld <&> \u2713 \U0001d11e"
sent = sqs.send_message(QueueUrl=url, MessageBody=body)
check(sent["MessageId"].isdigit(), "SendMessage: id %s" % sent["MessageId"])
got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                          AttributeNames=["All"]).get("Messages", [])
check(len(got) == 1 and got[0]["Body"] == body,
      "ReceiveMessage: the body round-trips (CR LF, <&>, non-BMP)")
check(got and got[0]["Attributes"].get("ApproximateReceiveCount") == "1",
      "ApproximateReceiveCount 1")
attrs = sqs.get_queue_attributes(QueueUrl=url,
                                 AttributeNames=["All"])["Attributes"]
check(attrs.get("ApproximateNumberOfMessagesNotVisible") == "1"
      and attrs.get("ApproximateNumberOfMessages") == "0"
      and attrs.get("VisibilityTimeout") == "5",
      "GetQueueAttributes: %s" % {k: v for k, v in attrs.items()
                                  if k.startswith("Approx")})
sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
attrs = sqs.get_queue_attributes(
    QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
check(attrs["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "0",
      "DeleteMessage: gone")

# --- batches ----------------------------------------------------------
sqs.set_queue_attributes(QueueUrl=url,
                         Attributes={"MaximumMessageSize": "1024"})
res = sqs.send_message_batch(QueueUrl=url, Entries=[
    {"Id": "a", "MessageBody": "one"},
    {"Id": "big", "MessageBody": "x" * 2000},
    {"Id": "c", "MessageBody": "three", "DelaySeconds": 0},
])
ok = sorted(e["Id"] for e in res.get("Successful", []))
bad = res.get("Failed", [])
check(ok == ["a", "c"] and len(bad) == 1 and bad[0]["Id"] == "big"
      and bad[0]["SenderFault"] and bad[0]["Code"] == "InvalidParameterValue",
      "SendMessageBatch: partial failure (%s, %s)" % (ok, bad))
code, _, _ = error_of(sqs.send_message_batch, QueueUrl=url, Entries=[
    {"Id": "e%d" % i, "MessageBody": "m"} for i in range(11)])
check(code == "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
      "SendMessageBatch of 11: %s" % code)
code, _, _ = error_of(sqs.send_message_batch, QueueUrl=url, Entries=[
    {"Id": "same", "MessageBody": "m"}, {"Id": "same", "MessageBody": "m"}])
check(code == "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
      "SendMessageBatch with repeated ids: %s" % code)
# Ten entries in one statement: ids in the entries' order; then a batch
# whose delays differ (each entry on its own): both received.
res = sqs.send_message_batch(QueueUrl=url, Entries=[
    {"Id": "o%d" % i, "MessageBody": "order %d" % i} for i in range(10)])
ten = [int(e["MessageId"]) for e in
       sorted(res.get("Successful", []), key=lambda e: int(e["Id"][1:]))]
check(len(ten) == 10 and ten == sorted(ten) and not res.get("Failed"),
      "SendMessageBatch of 10: every entry, ids in the entries' order")
res = sqs.send_message_batch(QueueUrl=url, Entries=[
    {"Id": "now", "MessageBody": "no delay"},
    {"Id": "later", "MessageBody": "delayed", "DelaySeconds": 1}])
check(sorted(e["Id"] for e in res.get("Successful", [])) == ["later", "now"],
      "SendMessageBatch with different delays: both sent")
seen, others = [], []
for _ in range(20):
    for x in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                 WaitTimeSeconds=1).get("Messages", []):
        if x["Body"].startswith("order ") or x["Body"] in ("no delay",
                                                           "delayed"):
            seen.append(x["Body"])
            sqs.delete_message(QueueUrl=url,
                               ReceiptHandle=x["ReceiptHandle"])
        else:
            others.append(x["ReceiptHandle"])
    if len(seen) == 12:
        break
for h in others:  # the earlier batch's, received below
    sqs.change_message_visibility(QueueUrl=url, VisibilityTimeout=0,
                                  ReceiptHandle=h)
check(sorted(seen) == sorted(["order %d" % i for i in range(10)]
                             + ["no delay", "delayed"]),
      "... all twelve received (%d)" % len(seen))
got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
check(sorted(m["Body"] for m in got) == ["one", "three"],
      "both batch messages received")
forged = got[0]["ReceiptHandle"][:-2] + (
    "AA" if got[0]["ReceiptHandle"][-2:] != "AA" else "AB")
res = sqs.delete_message_batch(QueueUrl=url, Entries=[
    {"Id": "good", "ReceiptHandle": got[1]["ReceiptHandle"]},
    {"Id": "forged", "ReceiptHandle": forged}])
check([e["Id"] for e in res.get("Successful", [])] == ["good"]
      and [(e["Id"], e["Code"]) for e in res.get("Failed", [])]
      == [("forged", "ReceiptHandleIsInvalid")],
      "DeleteMessageBatch: a forged handle fails alone")
left = sqs.get_queue_attributes(
    QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
check(left["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1",
      "... and the good entry's message is deleted, the other still in flight")
code, status, _ = error_of(sqs.delete_message, QueueUrl=url,
                           ReceiptHandle=forged)
check(code == "ReceiptHandleIsInvalid" and status == 400,
      "DeleteMessage with a forged handle: %s" % code)
res = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
    {"Id": "x", "ReceiptHandle": got[0]["ReceiptHandle"],
     "VisibilityTimeout": 0}])
check([e["Id"] for e in res.get("Successful", [])] == ["x"],
      "ChangeMessageVisibilityBatch: released")
again = sqs.receive_message(QueueUrl=url)["Messages"]
check(again[0]["MessageId"] == got[0]["MessageId"],
      "the released message is received again at once")
sqs.delete_message(QueueUrl=url, ReceiptHandle=again[0]["ReceiptHandle"])

# --- visibility expiry and stale handles -------------------------------
vis = sqs.create_queue(QueueName=PREFIX + "_vis",
                       Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
sqs.send_message(QueueUrl=vis, MessageBody="expiring")
first = sqs.receive_message(QueueUrl=vis)["Messages"][0]
check("Messages" not in sqs.receive_message(QueueUrl=vis),
      "in flight: invisible to a second receive")
time.sleep(1.4)
second = sqs.receive_message(QueueUrl=vis, AttributeNames=["All"])
second = second.get("Messages", [{}])[0]
check(second.get("MessageId") == first["MessageId"]
      and second["Attributes"]["ApproximateReceiveCount"] == "2",
      "visible again after its visibility timeout, receive count 2")
code, _, _ = error_of(sqs.change_message_visibility, QueueUrl=vis,
                      ReceiptHandle=first["ReceiptHandle"],
                      VisibilityTimeout=30)
check(code == "AWS.SimpleQueueService.MessageNotInflight",
      "the stale handle cannot extend the newer delivery: %s" % code)
sqs.delete_message(QueueUrl=vis, ReceiptHandle=first["ReceiptHandle"])
sqs.change_message_visibility(QueueUrl=vis,
                              ReceiptHandle=second["ReceiptHandle"],
                              VisibilityTimeout=0)
third = sqs.receive_message(QueueUrl=vis).get("Messages", [])
check(len(third) == 1 and third[0]["MessageId"] == first["MessageId"],
      "the stale handle's delete left the newer delivery alone")
sqs.delete_message(QueueUrl=vis, ReceiptHandle=third[0]["ReceiptHandle"])

# --- long polling, woken by another client's send ----------------------
lp = sqs.create_queue(QueueName=PREFIX + "_lp")["QueueUrl"]
out = {}


def poll():
    t = time.monotonic()
    r = sqs.receive_message(QueueUrl=lp, WaitTimeSeconds=15)
    out["done"] = time.monotonic()
    out["waited"] = out["done"] - t
    out["msgs"] = r.get("Messages", [])


th = threading.Thread(target=poll)
th.start()
check(wait_log("long poll waiting", "queue=%s_lp" % PREFIX),
      "the long poll found nothing and waits")
other.send_message(QueueUrl=lp, MessageBody="wake up")
sent_at = time.monotonic()
th.join(20)
lat = out.get("done", 1e9) - sent_at
# It waits 15 s and the server looks again only every 60 s: a message
# before the wait ends came from the send's notification.
check(len(out.get("msgs", [])) == 1 and lat < 10,
      "long poll woken by a send in %.3f s (waited %.2f s; polls every 60 s)"
      % (lat, out.get("waited", 0)))
with open(LOG) as f:
    woke = [l for l in f if "long poll woken" in l
            and "queue=%s_lp" % PREFIX in l]
check(woke and "by=notify" in woke[-1],
      "the server says a notification woke it: %s"
      % (woke[-1].strip()[-40:] if woke else None))
t = time.monotonic()
r = sqs.receive_message(QueueUrl=lp, WaitTimeSeconds=1)
check("Messages" not in r and 0.9 < time.monotonic() - t < 10,
      "an empty long poll returns after its wait")

# --- FIFO ---------------------------------------------------------------
fifo = sqs.create_queue(QueueName=PREFIX + "_orders.fifo",
                        Attributes={"FifoQueue": "true",
                                    "ContentBasedDeduplication": "true"}
                        )["QueueUrl"]
check(fifo.endswith("/%s_orders.fifo" % PREFIX), "CreateQueue .fifo")
check(psql("select kind from %s.queues where name = '%s_orders.fifo'"
           % (SCHEMA, PREFIX)) == "fifo",
      "CreateQueue NAME.fifo: the txq FIFO queue NAME.fifo")
# A FIFO queue made without the suffix (before txq took SQS's names, or by
# SQL) is still NAME.fifo over SQS.
psql("select %s.create_queue('%s_legacy', 'fifo')" % (SCHEMA, PREFIX))
legacy = sqs.get_queue_url(QueueName=PREFIX + "_legacy.fifo")["QueueUrl"]
check(legacy.endswith("/%s_legacy.fifo" % PREFIX), "legacy FIFO: " + legacy)
sqs.send_message(QueueUrl=legacy, MessageBody="L", MessageGroupId="g")
check(psql("select count(*) from %s.messages m join %s.queues q using"
           " (queue_id) where q.name = '%s_legacy'" % (SCHEMA, SCHEMA, PREFIX))
      == "1", "legacy FIFO: the message is in the txq queue NAME")
lst = sqs.list_queues(QueueNamePrefix=PREFIX + "_legacy").get("QueueUrls", [])
check(lst == [legacy], "ListQueues shows it as NAME.fifo: %s" % lst)
code, _, _ = error_of(sqs.get_queue_url, QueueName=PREFIX + "_legacy")
check(code == "AWS.SimpleQueueService.NonExistentQueue",
      "and not as a standard queue NAME (%s)" % code)
m = sqs.receive_message(QueueUrl=legacy).get("Messages", [])
check(len(m) == 1 and m[0]["Body"] == "L", "legacy FIFO: ReceiveMessage")
sqs.delete_message(QueueUrl=legacy, ReceiptHandle=m[0]["ReceiptHandle"])
check(psql("select count(*) from %s.messages m join %s.queues q using"
           " (queue_id) where q.name = '%s_legacy'" % (SCHEMA, SCHEMA, PREFIX))
      == "0", "legacy FIFO: DeleteMessage")
sqs.delete_queue(QueueUrl=legacy)
check(psql("select count(*) from %s.queues where name = '%s_legacy'"
           % (SCHEMA, PREFIX)) == "0", "DeleteQueue NAME.fifo drops NAME")
a1 = sqs.send_message(QueueUrl=fifo, MessageBody="A", MessageGroupId="g")
a2 = sqs.send_message(QueueUrl=fifo, MessageBody="A", MessageGroupId="g")
sqs.send_message(QueueUrl=fifo, MessageBody="B", MessageGroupId="g")
check(a1["MessageId"] == a2["MessageId"] and "SequenceNumber" in a1,
      "content-based deduplication: the same id twice")
code, _, _ = error_of(sqs.send_message, QueueUrl=fifo, MessageBody="C")
check(code == "MissingParameter", "FIFO send without a group: %s" % code)
m = sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10,
                        AttributeNames=["All"])["Messages"]
check(m[0]["Body"] == "A" and m[0]["Attributes"].get("MessageGroupId") == "g",
      "FIFO: A first, its group given")
for x in m:
    sqs.delete_message(QueueUrl=fifo, ReceiptHandle=x["ReceiptHandle"])
if len(m) == 1:
    m = sqs.receive_message(QueueUrl=fifo)["Messages"]
    sqs.delete_message(QueueUrl=fifo, ReceiptHandle=m[0]["ReceiptHandle"])
check(m[-1]["Body"] == "B", "FIFO: then B")
# A FIFO batch (one send_batch): in order within its groups, the entry
# whose body was sent before deduplicated to that message's id, a group
# missing from one entry failing that entry alone.
res = sqs.send_message_batch(QueueUrl=fifo, Entries=[
    {"Id": "x1", "MessageBody": "X1", "MessageGroupId": "h"},
    {"Id": "x2", "MessageBody": "X2", "MessageGroupId": "h"},
    {"Id": "dup", "MessageBody": "X1", "MessageGroupId": "h"},
    {"Id": "nogroup", "MessageBody": "X3"}])
got_ids = {e["Id"]: e["MessageId"] for e in res.get("Successful", [])}
check(sorted(got_ids) == ["dup", "x1", "x2"]
      and got_ids["dup"] == got_ids["x1"]
      and int(got_ids["x1"]) < int(got_ids["x2"])
      and [e["Id"] for e in res.get("Failed", [])] == ["nogroup"],
      "FIFO SendMessageBatch: order, deduplication, a bad entry alone (%s)"
      % res)
for body in ("X1", "X2"):
    m = sqs.receive_message(QueueUrl=fifo)["Messages"]
    check(m[0]["Body"] == body, "FIFO batch: %s next" % body)
    sqs.delete_message(QueueUrl=fifo, ReceiptHandle=m[0]["ReceiptHandle"])

# --- authentication and grants -----------------------------------------
code, status, _ = error_of(client(secret="wrong-secret").list_queues)
check(code == "SignatureDoesNotMatch" and status == 403,
      "a bad signature: SignatureDoesNotMatch, 403 (%s %s)" % (code, status))
bogus = boto3.client("sqs", endpoint_url=ENDPOINT, region_name="us-east-1",
                     aws_access_key_id="AKIDUNKNOWN", aws_secret_access_key="x",
                     config=Config(retries={"max_attempts": 1}))
code, status, _ = error_of(bogus.list_queues)
check(code == "InvalidClientTokenId" and status == 403,
      "an unknown key: InvalidClientTokenId, 403 (%s)" % code)
req = urllib.request.Request(ENDPOINT + "/", data=b"Action=ListQueues",
                             headers={"Content-Type":
                                      "application/x-www-form-urlencoded"})
try:
    urllib.request.urlopen(req)
    status, text = 200, ""
except urllib.error.HTTPError as e:
    status, text = e.code, e.read().decode()
check(status == 403 and "MissingAuthenticationToken" in text,
      "an unsigned request: 403 MissingAuthenticationToken")


def raw(body, amz_date=None, tamper=False, target=None):
    """A request signed here, independently of botocore: a query-protocol
    form, or with target (an action) a JSON-protocol one."""
    import datetime
    import hashlib
    import hmac
    key, secret = os.environ["SQS_KEY_APP"], os.environ["SQS_SECRET_APP"]
    host = ENDPOINT.split("://")[1]
    amz_date = amz_date or datetime.datetime.now(
        datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    scope = "%s/us-east-1/sqs/aws4_request" % amz_date[:8]
    ctype = ("application/x-amz-json-1.0" if target
             else "application/x-www-form-urlencoded")
    creq = "\n".join(["POST", "/", "", "content-type:" + ctype,
                       "host:" + host, "x-amz-date:" + amz_date, "",
                       "content-type;host;x-amz-date",
                       hashlib.sha256(body).hexdigest()])
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                      hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + secret).encode()
    for part in (amz_date[:8], "us-east-1", "sqs", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    auth = ("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders="
            "content-type;host;x-amz-date, Signature=%s" % (key, scope, sig))
    req = urllib.request.Request(
        ENDPOINT + "/", data=body + (b"x" if tamper else b""),
        headers={"Content-Type": ctype, "X-Amz-Date": amz_date,
                 "Authorization": auth,
                 **({"X-Amz-Target": "AmazonSQS." + target} if target
                    else {})})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


if EXPECT == "query":
    status, text = raw(b"Action=ListQueues&Version=2012-11-05")
    check(status == 200 and "ListQueuesResult" in text,
          "a request signed by a second, independent signer: %d" % status)
    status, text = raw(b"Action=ListQueues", tamper=True)
    check(status == 403 and "SignatureDoesNotMatch" in text,
          "a body changed after signing: 403 SignatureDoesNotMatch")
    old = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() - 16 * 60))
    status, text = raw(b"Action=ListQueues", amz_date=old)
    check(status == 403 and "RequestExpired" in text,
          "signed 16 minutes ago: 403 RequestExpired")
    new = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() + 14 * 60))
    status, text = raw(b"Action=ListQueues", amz_date=new)
    check(status == 200, "signed 14 minutes ahead: within the skew (%d)"
          % status)

nobody = client("NONE")
code, status, msg = error_of(nobody.send_message, QueueUrl=url,
                             MessageBody="no")
check(code == "AccessDenied" and status == 403,
      "a role without grants cannot send: %s %s" % (code, msg[:50]))
code, status, _ = error_of(nobody.receive_message, QueueUrl=url)
check(code == "AccessDenied", "... nor receive: %s" % code)
check(nobody.list_queues(QueueNamePrefix=PREFIX).get("QueueUrls", []) == [],
      "... and lists no queue")
# Its DeleteMessageBatch of a valid handle and a forged one: the batch's
# one statement is refused, then each entry fails with its own error.
sqs.send_message(QueueUrl=url, MessageBody="not theirs")
mine = sqs.receive_message(QueueUrl=url, VisibilityTimeout=60)["Messages"][0]
res = nobody.delete_message_batch(QueueUrl=url, Entries=[
    {"Id": "n1", "ReceiptHandle": mine["ReceiptHandle"]},
    {"Id": "n2", "ReceiptHandle": forged}])
check(not res.get("Successful")
      and sorted((e["Id"], e["Code"]) for e in res.get("Failed", []))
      == [("n1", "AccessDenied"), ("n2", "ReceiptHandleIsInvalid")],
      "... nor delete: each entry fails with its own error (%s)"
      % res.get("Failed"))
left = sqs.get_queue_attributes(
    QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
check(left["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1",
      "... and the message is still there")
sqs.delete_message(QueueUrl=url, ReceiptHandle=mine["ReceiptHandle"])

# --- message attributes -------------------------------------------------
# md5_attrs itself, first: digests published for SQS's algorithm.
check(md5_attrs({"attribName1": {"DataType": "String",
                                 "StringValue": "attribValue 1"}})
      == "19e27d4e946b072f3f58da80d94fd778"
      and md5_attrs({"binaryAttribute": {"DataType": "Binary",
                                         "BinaryValue": b"Hello binary world!"}})
      == "31a92b15d92f8db860eda32aceb656c3"
      and md5_attrs({"customNumberTypeAttrib": {
          "DataType": "Number.float",
          "StringValue": "4563442423554324324264524243.32543234"}})
      == "9fe1b90bbd9965bdf77bac517c7d2495",
      "the test's MD5OfMessageAttributes matches SQS's published digests")
aq = sqs.create_queue(QueueName=PREFIX + "_attrs",
                      Attributes={"MaximumMessageSize": "1024"})["QueueUrl"]
ATTRS = {
    "s": {"DataType": "String", "StringValue": "h\u00e9llo \u2713 <&>"},
    "n": {"DataType": "Number", "StringValue": "1.50"},
    "neg": {"DataType": "Number.int", "StringValue": "-12e3"},
    "b": {"DataType": "Binary", "BinaryValue": b"\x00\xffbin\x10"},
    "gif": {"DataType": "Binary.gif", "BinaryValue": b"GIF89a\x01"},
    "c.x": {"DataType": "String.custom", "StringValue": "custom"},
}
body = "with attributes"
sent = sqs.send_message(QueueUrl=aq, MessageBody=body, MessageAttributes=ATTRS)
check(sent.get("MD5OfMessageAttributes") == md5_attrs(ATTRS)
      and sent["MD5OfMessageBody"] == hashlib.md5(body.encode()).hexdigest(),
      "SendMessage with 6 attributes of every type: MD5OfMessageAttributes")
got = sqs.receive_message(QueueUrl=aq, MessageAttributeNames=["All"])
m = got["Messages"][0]
check(m.get("MessageAttributes") == ATTRS,
      "every type round-trips exactly (Number as sent, Binary's bytes): %s"
      % {k: v for k, v in m.get("MessageAttributes", {}).items()
         if ATTRS.get(k) != v})
check(m.get("MD5OfMessageAttributes") == md5_attrs(m["MessageAttributes"])
      == sent["MD5OfMessageAttributes"]
      and m["MD5OfBody"] == hashlib.md5(m["Body"].encode()).hexdigest(),
      "ReceiveMessage: MD5OfMessageAttributes and MD5OfBody")
hdr = psql("select headers->>'s' || '|' || (headers->>'n') || '|' ||"
           " (headers->'sqs:types'->>'n') from %s.messages where id = %s"
           % (SCHEMA, m["MessageId"]))
check(hdr == "h\u00e9llo \u2713 <&>|1.50|Number",
      "SQL sees a String attribute as an ordinary header: %s" % hdr)
sqs.change_message_visibility(QueueUrl=aq, ReceiptHandle=m["ReceiptHandle"],
                              VisibilityTimeout=0)


def names_seen(names):
    kw = {"MessageAttributeNames": names} if names is not None else {}
    r = sqs.receive_message(QueueUrl=aq, **kw)["Messages"][0]
    sqs.change_message_visibility(QueueUrl=aq,
                                  ReceiptHandle=r["ReceiptHandle"],
                                  VisibilityTimeout=0)
    a = r.get("MessageAttributes", {})
    ok = ("MD5OfMessageAttributes" not in r if not a
          else r["MD5OfMessageAttributes"] == md5_attrs(a))
    return sorted(a), ok


for names, want in ((["n", "s"], ["n", "s"]), (["c.*"], ["c.x"]),
                    ([".*"], sorted(ATTRS)), (["nope"], []), (None, [])):
    seen, ok = names_seen(names)
    check(seen == want and ok, "MessageAttributeNames %s: %s" % (names, seen))
m = sqs.receive_message(QueueUrl=aq)["Messages"][0]
sqs.delete_message(QueueUrl=aq, ReceiptHandle=m["ReceiptHandle"])

# Headers written by SQL are String attributes over SQS.
psql("select %s.send('%s_attrs', convert_to('from sql', 'UTF8'),"
     " '{\"k\": \"v\", \"num\": 1.50, \"obj\": {\"a\": [1, true]}}')"
     % (SCHEMA, PREFIX))
m = sqs.receive_message(QueueUrl=aq, MessageAttributeNames=["All"])
m = m["Messages"][0]
want = {"k": {"DataType": "String", "StringValue": "v"},
        "num": {"DataType": "String", "StringValue": "1.50"},
        "obj": {"DataType": "String", "StringValue": '{"a": [1, true]}'}}
check(m.get("MessageAttributes") == want
      and m["MD5OfMessageAttributes"] == md5_attrs(want),
      "headers set by SQL are String attributes: %s"
      % m.get("MessageAttributes"))
sqs.delete_message(QueueUrl=aq, ReceiptHandle=m["ReceiptHandle"])

# AWSTraceHeader, the one system attribute.
trace = {"AWSTraceHeader": {"DataType": "String",
                            "StringValue": "Root=1-5759e988-bd862e3fe1be46a99"}}
sent = sqs.send_message(QueueUrl=aq, MessageBody="traced",
                        MessageSystemAttributes=trace)
m = sqs.receive_message(QueueUrl=aq, AttributeNames=["AWSTraceHeader"])
m = m["Messages"][0]
check(sent.get("MD5OfMessageSystemAttributes") == md5_attrs(trace)
      and m.get("Attributes", {}).get("AWSTraceHeader")
      == trace["AWSTraceHeader"]["StringValue"],
      "MessageSystemAttributes AWSTraceHeader: digest, received back")
sqs.delete_message(QueueUrl=aq, ReceiptHandle=m["ReceiptHandle"])

# SQS's limits: refused with its code, and nothing is sent.
bad = [
    ("11 attributes", {"a%d" % i: {"DataType": "String", "StringValue": "x"}
                       for i in range(11)}),
    ("a reserved name", {"AWS.x": {"DataType": "String", "StringValue": "x"}}),
    ("a bad name", {"a b": {"DataType": "String", "StringValue": "x"}}),
    ("a leading period", {".a": {"DataType": "String", "StringValue": "x"}}),
    ("an unknown type", {"a": {"DataType": "Text", "StringValue": "x"}}),
    ("not a number", {"a": {"DataType": "Number", "StringValue": "1,5"}}),
    ("39 digits", {"a": {"DataType": "Number", "StringValue": "1" * 39}}),
    ("an empty value", {"a": {"DataType": "String", "StringValue": ""}}),
    ("no value", {"a": {"DataType": "String"}}),
    ("a String given bytes", {"a": {"DataType": "String",
                                    "BinaryValue": b"x"}}),
    ("over MaximumMessageSize with the body",
     {"big": {"DataType": "String", "StringValue": "v" * 100}}),
]
for what, attrs in bad:
    code, status, msg = error_of(sqs.send_message, QueueUrl=aq,
                                 MessageBody="b" * 950,
                                 MessageAttributes=attrs)
    check(code == "InvalidParameterValue" and status == 400,
          "refused, %s: %s %s" % (what, code, msg[:70]))
res = sqs.send_message_batch(QueueUrl=aq, Entries=[
    {"Id": "good", "MessageBody": "g",
     "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "7"}}},
    {"Id": "bad", "MessageBody": "b",
     "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "x"}}}])
okd = res.get("Successful", [])
check([e["Id"] for e in okd] == ["good"]
      and okd[0]["MD5OfMessageAttributes"]
      == md5_attrs({"n": {"DataType": "Number", "StringValue": "7"}})
      and [(e["Id"], e["Code"]) for e in res.get("Failed", [])]
      == [("bad", "InvalidParameterValue")],
      "SendMessageBatch: attributes per entry, a bad one fails alone")
if EXPECT == "query":
    for what, form in (
            ("malformed base64",
             "MessageAttribute.1.Name=b&MessageAttribute.1.Value.DataType="
             "Binary&MessageAttribute.1.Value.BinaryValue=%21%21%21"),
            ("a list numbered from 0",
             "MessageAttribute.0.Name=z&MessageAttribute.0.Value.DataType="
             "String&MessageAttribute.0.Value.StringValue=1"),
            ("an attribute without its number",
             "MessageAttribute.Name=z&MessageAttribute.Value.DataType="
             "String&MessageAttribute.Value.StringValue=1"),
            ("a name given twice",
             "MessageAttribute.1.Name=d&MessageAttribute.1.Value.DataType="
             "String&MessageAttribute.1.Value.StringValue=1&"
             "MessageAttribute.2.Name=d&MessageAttribute.2.Value.DataType="
             "String&MessageAttribute.2.Value.StringValue=2")):
        status, text = raw(("Action=SendMessage&QueueUrl=%s&MessageBody=x&%s"
                            % (aq, form)).encode())
        check(status == 400 and "InvalidParameterValue" in text,
              "refused, %s (raw form): %d" % (what, status))
else:
    status, text = raw(('{"QueueUrl": "%s", "MessageBody": "x",'
                        ' "MessageAttributes": {'
                        '"d": {"DataType": "String", "StringValue": "1"},'
                        '"d": {"DataType": "String", "StringValue": "2"}}}'
                        % aq).encode(), target="SendMessage")
    check(status == 400 and "InvalidParameterValue" in text,
          "refused, a name given twice (raw JSON): %d" % status)
n = sqs.get_queue_attributes(QueueUrl=aq, AttributeNames=[
    "ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"]
check(n == "1", "nothing refused was sent (1 message: the batch's good one,"
      " %s)" % n)
sqs.purge_queue(QueueUrl=aq)

# --- tags ---------------------------------------------------------------
tq = sqs.create_queue(QueueName=PREFIX + "_tags",
                      tags={"team": "a"})["QueueUrl"]
check(sqs.list_queue_tags(QueueUrl=tq).get("Tags") == {"team": "a"},
      "CreateQueue with tags")
sqs.tag_queue(QueueUrl=tq, Tags={"env": "prod", "team": "b"})
check(sqs.list_queue_tags(QueueUrl=tq).get("Tags")
      == {"env": "prod", "team": "b"}, "TagQueue: added, replaced")
sqs.untag_queue(QueueUrl=tq, TagKeys=["env", "absent"])
check(sqs.list_queue_tags(QueueUrl=tq).get("Tags") == {"team": "b"},
      "UntagQueue")
code, _, _ = error_of(sqs.tag_queue, QueueUrl=tq,
                      Tags={"k%d" % i: "v" for i in range(50)})
check(code == "InvalidParameterValue", "51 tags refused: %s" % code)
code, _, _ = error_of(sqs.tag_queue, QueueUrl=tq,
                      Tags={"ok": "v", "aws:x": "v"})
check(code == "InvalidParameterValue", "a reserved key refused: %s" % code)
code, _, _ = error_of(sqs.tag_queue, QueueUrl=tq, Tags={"long": "v" * 257})
check(code == "InvalidParameterValue", "a 257-character value refused")
code, _, _ = error_of(sqs.tag_queue, QueueUrl=tq, Tags={"ctl": "a\x01b"})
check(code == "InvalidParameterValue",
      "a control character in a value refused: %s" % code)
check(sqs.list_queue_tags(QueueUrl=tq).get("Tags") == {"team": "b"},
      "... and the refused TagQueues changed nothing")
# One set by SQL reads back with U+FFFD, in XML as in JSON.
psql("select %s.tag_queue('%s_tags', jsonb_build_object('sql',"
     " 'x' || chr(1) || 'y'))" % (SCHEMA, PREFIX))
got = sqs.list_queue_tags(QueueUrl=tq).get("Tags")
check(got == {"team": "b", "sql": "x\ufffdy"},
      "a tag set by SQL with a control character shows U+FFFD (%r)" % got)
code, status, _ = error_of(client("NONE").list_queue_tags, QueueUrl=tq)
check(code == "AccessDenied" and status == 403,
      "a role without monitor cannot list tags: %s" % code)
sqs.delete_queue(QueueUrl=tq)

# --- ReceiveMessageWaitTimeSeconds ----------------------------------------
wq = sqs.create_queue(QueueName=PREFIX + "_wait", Attributes={
    "ReceiveMessageWaitTimeSeconds": "20"})["QueueUrl"]
check(sqs.get_queue_attributes(QueueUrl=wq, AttributeNames=[
    "ReceiveMessageWaitTimeSeconds"])["Attributes"]
    ["ReceiveMessageWaitTimeSeconds"] == "20",
    "CreateQueue ReceiveMessageWaitTimeSeconds 20")
code, _, _ = error_of(sqs.create_queue, QueueName=PREFIX + "_wait",
                      Attributes={"ReceiveMessageWaitTimeSeconds": "5"})
check(code == "QueueAlreadyExists", "... again with 5: %s" % code)
code, _, _ = error_of(sqs.set_queue_attributes, QueueUrl=wq,
                      Attributes={"ReceiveMessageWaitTimeSeconds": "21"})
check(code == "InvalidAttributeValue", "21 refused: %s" % code)
out = {}


def default_wait():
    out["r"] = sqs.receive_message(QueueUrl=wq)  # no WaitTimeSeconds


def waiting(queue):
    """How many long polls of queue the server has logged as waiting."""
    pat = re.compile(r'msg="long poll waiting" queue=%s(\s|$)' % queue)
    with open(LOG) as f:
        return sum(1 for l in f if pat.search(l))


before = waiting(PREFIX + "_wait")
th = threading.Thread(target=default_wait)
th.start()
for _ in range(400):  # until the receive is waiting (not a timing check)
    if waiting(PREFIX + "_wait") > before:
        break
    time.sleep(0.05)
other.send_message(QueueUrl=wq, MessageBody="woke the default wait")
th.join(30)
got = out.get("r", {}).get("Messages", [])
check(len(got) == 1 and got[0]["Body"] == "woke the default wait",
      "a receive without WaitTimeSeconds waits the queue's 20 s and is"
      " woken by a send")
sqs.delete_queue(QueueUrl=wq)

# --- AddPermission / RemovePermission ------------------------------------
pq = sqs.create_queue(QueueName=PREFIX + "_perm")["QueueUrl"]
nobody = client("NONE")
code, _, _ = error_of(nobody.send_message, QueueUrl=pq, MessageBody="x")
check(code == "AccessDenied", "before AddPermission: the other account's "
      "key cannot send (%s)" % code)
sqs.add_permission(QueueUrl=pq, Label="nonesend",
                   AWSAccountIds=[os.environ["SQS_ACCOUNT_NONE"]],
                   Actions=["SendMessage", "GetQueueAttributes"])
code, _, _ = error_of(nobody.send_message, QueueUrl=pq, MessageBody="x")
check(code is None, "AddPermission SendMessage: it can send (%s)" % code)
code, _, _ = error_of(nobody.receive_message, QueueUrl=pq)
check(code == "AccessDenied", "... but not receive (%s)" % code)
code, _, _ = error_of(sqs.add_permission, QueueUrl=pq, Label="nonesend",
                      AWSAccountIds=[os.environ["SQS_ACCOUNT_NONE"]],
                      Actions=["ReceiveMessage"])
check(code == "InvalidParameterValue", "a label twice: %s" % code)
code, _, _ = error_of(sqs.add_permission, QueueUrl=pq, Label="x",
                      AWSAccountIds=["999999999999"], Actions=["SendMessage"])
check(code == "InvalidParameterValue", "an account no key has: %s" % code)
code, _, _ = error_of(sqs.add_permission, QueueUrl=pq, Label="x",
                      AWSAccountIds=[os.environ["SQS_ACCOUNT_NONE"]],
                      Actions=["DeleteQueue"])
check(code == "InvalidParameterValue", "an owner's action: %s" % code)
code, _, _ = error_of(nobody.add_permission, QueueUrl=pq, Label="mine",
                      AWSAccountIds=[os.environ["SQS_ACCOUNT_NONE"]],
                      Actions=["ReceiveMessage"])
check(code == "AccessDenied", "a key without admin cannot AddPermission "
      "(%s)" % code)
sqs.remove_permission(QueueUrl=pq, Label="nonesend")
code, _, _ = error_of(nobody.send_message, QueueUrl=pq, MessageBody="x")
check(code == "AccessDenied", "RemovePermission: it can no longer send (%s)"
      % code)
code, _, _ = error_of(sqs.remove_permission, QueueUrl=pq, Label="nonesend")
check(code == "InvalidParameterValue", "an unknown label: %s" % code)
# A grant held before AddPermission stays after RemovePermission.
role_none = os.environ["SQS_ROLE_NONE"]
psql("select %s.grant('%s_perm', '%s', array['send'])"
     % (SCHEMA, PREFIX, role_none))
sqs.add_permission(QueueUrl=pq, Label="again",
                   AWSAccountIds=[os.environ["SQS_ACCOUNT_NONE"]],
                   Actions=["SendMessage"])
sqs.remove_permission(QueueUrl=pq, Label="again")
code, _, _ = error_of(nobody.send_message, QueueUrl=pq, MessageBody="x")
check(code is None, "RemovePermission leaves a grant it did not make (%s)"
      % code)
psql("select %s.revoke('%s_perm', '%s')" % (SCHEMA, PREFIX, role_none))
sqs.delete_queue(QueueUrl=pq)

# --- txq-sqs's connections and what it keeps --------------------------
# A queue dropped by SQL just after txq-sqs looked it up (message actions
# reuse a lookup for a second): a send and a receive are refused, nothing
# goes into a queue that is gone.
cq = sqs.create_queue(QueueName=PREFIX + "_gone")["QueueUrl"]
sqs.send_message(QueueUrl=cq, MessageBody="looked up")
psql("select %s.drop_queue('%s_gone', i_force => true)" % (SCHEMA, PREFIX))
code, _, _ = error_of(sqs.send_message, QueueUrl=cq, MessageBody="lost?")
check(code == "AWS.SimpleQueueService.NonExistentQueue",
      "a queue dropped by SQL a moment ago: SendMessage refused (%s)" % code)
code, _, _ = error_of(sqs.receive_message, QueueUrl=cq)
check(code == "AWS.SimpleQueueService.NonExistentQueue",
      "and ReceiveMessage (%s)" % code)
# Every backend of txq-sqs ended (a failover, an operator): the requests
# that follow work at once, on fresh connections (txq-sqs finds a closed
# one before using it) that prepare their statements anew.
psql("select count(pg_terminate_backend(pid)) from pg_stat_activity"
     " where application_name = 'txq-sqs'")
time.sleep(0.2)  # the backends' ends reach txq-sqs
codes = [error_of(sqs.send_message, QueueUrl=url, MessageBody="again")[0]]
codes += [error_of(sqs.send_message_batch, QueueUrl=url, Entries=[
    {"Id": "a", "MessageBody": "1"}, {"Id": "b", "MessageBody": "2"}])[0]
    for _ in range(5)]
got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
codes += [error_of(sqs.delete_message_batch, QueueUrl=url, Entries=[
    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
    for i, m in enumerate(got.get("Messages", []))])[0]]
check(codes == [None] * 7 and len(got.get("Messages", [])) == 10,
      "after its backends ended: sends, receives, deletes work (%s, %d)"
      % (codes, len(got.get("Messages", []))))
sqs.purge_queue(QueueUrl=url)

# --- purge, delete -------------------------------------------------------
sqs.send_message(QueueUrl=url, MessageBody="purge me")
sqs.purge_queue(QueueUrl=url)
attrs = sqs.get_queue_attributes(
    QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
check(attrs["Attributes"]["ApproximateNumberOfMessages"] == "0", "PurgeQueue")
for q in (url, vis, lp, fifo, aq):
    sqs.delete_queue(QueueUrl=q)
code, _, _ = error_of(sqs.get_queue_url, QueueName=name)
check(code == "AWS.SimpleQueueService.NonExistentQueue", "DeleteQueue")
check(sqs.list_queues(QueueNamePrefix=PREFIX).get("QueueUrls", []) == [],
      "no queue left")

print("boto3 %s (%s): %s" % (boto3.__version__, protocol,
                             "FAILED %d" % failures if failures else "ok"))
sys.exit(1 if failures else 0)
