// sqs_node.cjs - txq-sqs through @aws-sdk/client-sqs (AWS JSON 1.0).
//
// Run by tests/sqs/sqs_test.sh, which starts txq-sqs, installs the SDK
// and exports SQS_* and NODE_PATH. The SDK verifies MD5OfMessageBody and
// MD5OfBody itself (its md5 option left on), not MD5OfMessageAttributes:
// md5Attrs below does, written from SQS's developer guide.
"use strict";
const crypto = require("crypto");
const fs = require("fs");
const sqsmod = require("@aws-sdk/client-sqs");
const {
  SQSClient, CreateQueueCommand, GetQueueUrlCommand, SendMessageCommand,
  SendMessageBatchCommand, ReceiveMessageCommand, DeleteMessageCommand,
  DeleteQueueCommand, ListQueuesCommand, GetQueueAttributesCommand,
  ChangeMessageVisibilityCommand, ListQueueTagsCommand, TagQueueCommand,
} = sqsmod;

// SQS's MD5OfMessageAttributes: sorted by name; name, DataType (4-byte
// length, bytes), transport byte (1 String/Number, 2 Binary), value.
function md5Attrs(attrs) {
  const h = crypto.createHash("md5");
  const lv = (b) => {
    const l = Buffer.alloc(4);
    l.writeUInt32BE(b.length);
    h.update(l);
    h.update(b);
  };
  for (const name of Object.keys(attrs).sort()) {
    const a = attrs[name];
    lv(Buffer.from(name));
    lv(Buffer.from(a.DataType));
    if (a.BinaryValue !== undefined) {
      h.update(Buffer.from([2]));
      lv(Buffer.from(a.BinaryValue));
    } else {
      h.update(Buffer.from([1]));
      lv(Buffer.from(a.StringValue));
    }
  }
  return h.digest("hex");
}

const env = process.env;
let failures = 0;

function client(key, secret) {
  return new SQSClient({
    endpoint: env.SQS_ENDPOINT,
    region: "us-east-1",
    maxAttempts: 1,
    credentials: {
      accessKeyId: env["SQS_KEY_" + key],
      secretAccessKey: secret || env["SQS_SECRET_" + key],
    },
  });
}

function check(cond, what) {
  if (cond) {
    console.log("  ok   " + what);
  } else {
    failures++;
    console.log("  FAIL " + what);
  }
}

// Wait until a line of the server's log has every one of words.
async function waitLog(...words) {
  for (let i = 0; i < 1200; i++) {
    const lines = fs.readFileSync(env.SQS_LOG, "utf8").split("\n");
    if (lines.some((l) => words.every((w) => l.includes(w)))) return true;
    await new Promise((res) => setTimeout(res, 50));
  }
  return false;
}

async function errorOf(c, cmd) {
  try {
    await c.send(cmd);
  } catch (e) {
    return { name: e.name, code: e.Code, status: e.$metadata?.httpStatusCode,
             message: e.message };
  }
  return { name: null };
}

async function main() {
  const sqs = client("APP");
  const other = client("APP");
  let protocol = "?";
  sqs.middlewareStack.add((next) => async (args) => {
    const t = args.request.headers["x-amz-target"] ||
              args.request.headers["X-Amz-Target"];
    protocol = t ? "json" : "query";
    return next(args);
  }, { step: "finalizeRequest", name: "whichProtocol" });

  const name = env.SQS_PREFIX + "_node";
  const url = (await sqs.send(new CreateQueueCommand({
    QueueName: name, Attributes: { VisibilityTimeout: "5" } }))).QueueUrl;
  check(protocol === "json", "the SDK speaks AWS JSON 1.0 (" + protocol + ")");
  check(url === env.SQS_ENDPOINT + "/000000000000/" + name,
        "CreateQueue: " + url);
  check((await sqs.send(new GetQueueUrlCommand({ QueueName: name })))
          .QueueUrl === url, "GetQueueUrl");
  const missing = await errorOf(sqs, new GetQueueUrlCommand({
    QueueName: env.SQS_PREFIX + "_missing" }));
  check(missing.name === "QueueDoesNotExist" && missing.status === 400,
        "unknown queue: " + missing.name + " " + missing.status);
  const listed = await sqs.send(new ListQueuesCommand({
    QueueNamePrefix: env.SQS_PREFIX + "_no" }));
  check(JSON.stringify(listed.QueueUrls) === JSON.stringify([url]),
        "ListQueues with a prefix");

  const body = "node \u00e9\u2713 \ud834\udd1e {\"json\": true}\r\n";
  const sent = await sqs.send(new SendMessageCommand({
    QueueUrl: url, MessageBody: body }));
  check(/^\d+$/.test(sent.MessageId), "SendMessage: " + sent.MessageId);
  let got = await sqs.send(new ReceiveMessageCommand({
    QueueUrl: url, MaxNumberOfMessages: 10,
    MessageSystemAttributeNames: ["ApproximateReceiveCount"] }));
  check(got.Messages?.length === 1 && got.Messages[0].Body === body &&
        got.Messages[0].Attributes?.ApproximateReceiveCount === "1",
        "ReceiveMessage: the body round-trips");
  const handle = got.Messages[0].ReceiptHandle;
  const forged = handle.slice(0, 10) +
                 (handle[10] === "A" ? "B" : "A") + handle.slice(11);
  const bad = await errorOf(sqs, new DeleteMessageCommand({
    QueueUrl: url, ReceiptHandle: forged }));
  check(bad.name === "ReceiptHandleIsInvalid" && bad.status === 400,
        "a forged receipt handle: " + bad.name);
  await sqs.send(new DeleteMessageCommand({ QueueUrl: url,
                                            ReceiptHandle: handle }));
  const attrs = (await sqs.send(new GetQueueAttributesCommand({
    QueueUrl: url, AttributeNames: ["All"] }))).Attributes;
  check(attrs.ApproximateNumberOfMessages === "0" &&
        attrs.ApproximateNumberOfMessagesNotVisible === "0",
        "DeleteMessage: gone");

  const batch = await sqs.send(new SendMessageBatchCommand({
    QueueUrl: url, Entries: [
      { Id: "ok", MessageBody: "fine" },
      { Id: "bad", MessageBody: "late", DelaySeconds: 901 },
    ] }));
  check((batch.Successful || []).map((e) => e.Id).join() === "ok" &&
        (batch.Failed || []).map((e) => e.Id + ":" + e.Code).join() ===
          "bad:InvalidParameterValue",
        "SendMessageBatch: partial failure");
  got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url }));
  await sqs.send(new DeleteMessageCommand({
    QueueUrl: url, ReceiptHandle: got.Messages[0].ReceiptHandle }));

  // A long poll, woken by another client's send.
  const t0 = performance.now();
  const poll = sqs.send(new ReceiveMessageCommand({
    QueueUrl: url, WaitTimeSeconds: 15 })).then((r) => {
      return { r, t: performance.now() };
    });
  check(await waitLog("long poll waiting", "queue=" + name),
        "the long poll found nothing and waits");
  await other.send(new SendMessageCommand({ QueueUrl: url,
                                            MessageBody: "wake" }));
  const sentAt = performance.now();
  const { r, t } = await poll;
  const lat = (t - sentAt) / 1000;
  // It waits 15 s and the server looks again only every 60 s: a message
  // before the wait ends came from the send's notification.
  check(r.Messages?.length === 1 && lat < 10,
        "long poll woken by a send in " + lat.toFixed(3) + " s (waited " +
        ((t - t0) / 1000).toFixed(2) + " s)");
  await sqs.send(new DeleteMessageCommand({
    QueueUrl: url, ReceiptHandle: r.Messages[0].ReceiptHandle }));

  const sig = await errorOf(client("APP", "wrong-secret"),
                            new ListQueuesCommand({}));
  check(sig.status === 403 && /SignatureDoesNotMatch/.test(
          sig.name + " " + sig.code),
        "a bad signature: 403 " + sig.name);
  const denied = await errorOf(client("NONE"), new SendMessageCommand({
    QueueUrl: url, MessageBody: "no" }));
  check(denied.status === 403 && /AccessDenied/.test(
          denied.name + " " + denied.code),
        "a role without grants: 403 " + denied.name);

  // Message attributes: every type round-trips, digests checked here.
  check(md5Attrs({ attribName1: { DataType: "String",
                                  StringValue: "attribValue 1" } }) ===
        "19e27d4e946b072f3f58da80d94fd778",
        "the test's MD5OfMessageAttributes matches SQS's published digest");
  const mattrs = {
    s: { DataType: "String", StringValue: "n\u00f6de \u2713" },
    n: { DataType: "Number.float", StringValue: "-0.000120" },
    b: { DataType: "Binary", BinaryValue: Uint8Array.from([0, 255, 7, 42]) },
  };
  const withAttrs = await sqs.send(new SendMessageCommand({
    QueueUrl: url, MessageBody: "attrs", MessageAttributes: mattrs }));
  check(withAttrs.MD5OfMessageAttributes === md5Attrs(mattrs),
        "SendMessage with String, Number.float, Binary: its digest");
  got = await sqs.send(new ReceiveMessageCommand({
    QueueUrl: url, MessageAttributeNames: ["All"] }));
  let m = got.Messages?.[0] || {};
  const back = m.MessageAttributes || {};
  check(back.s?.StringValue === mattrs.s.StringValue &&
        back.n?.StringValue === "-0.000120" &&
        back.n?.DataType === "Number.float" &&
        Buffer.from(back.b?.BinaryValue || []).equals(
          Buffer.from(mattrs.b.BinaryValue)) &&
        m.MD5OfMessageAttributes === md5Attrs(back) &&
        m.MD5OfMessageAttributes === withAttrs.MD5OfMessageAttributes,
        "ReceiveMessage: the attributes round-trip, digest checked");
  await sqs.send(new ChangeMessageVisibilityCommand({
    QueueUrl: url, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 }));
  got = await sqs.send(new ReceiveMessageCommand({
    QueueUrl: url, MessageAttributeNames: ["s", "b"] }));
  m = got.Messages?.[0] || {};
  check(Object.keys(m.MessageAttributes || {}).sort().join() === "b,s" &&
        m.MD5OfMessageAttributes === md5Attrs(m.MessageAttributes),
        "MessageAttributeNames [s, b]: those two");
  await sqs.send(new DeleteMessageCommand({
    QueueUrl: url, ReceiptHandle: m.ReceiptHandle }));
  const tooMany = {};
  for (let i = 0; i < 11; i++) {
    tooMany["a" + i] = { DataType: "String", StringValue: "x" };
  }
  const refused = await errorOf(sqs, new SendMessageCommand({
    QueueUrl: url, MessageBody: "no", MessageAttributes: tooMany }));
  check(refused.status === 400 && /InvalidParameterValue/.test(
          refused.name + " " + refused.code),
        "11 attributes refused: " + refused.name);

  // Tags: "tags" on CreateQueue (the JSON protocol's name), TagQueue.
  const tq = (await sqs.send(new CreateQueueCommand({
    QueueName: name + "_tags", tags: { team: "node" } }))).QueueUrl;
  await sqs.send(new TagQueueCommand({ QueueUrl: tq, Tags: { env: "t" } }));
  const tags = (await sqs.send(new ListQueueTagsCommand({ QueueUrl: tq })))
    .Tags;
  check(JSON.stringify(tags) === JSON.stringify({ env: "t", team: "node" }),
        "CreateQueue tags, TagQueue, ListQueueTags: " + JSON.stringify(tags));
  await sqs.send(new DeleteQueueCommand({ QueueUrl: tq }));

  await sqs.send(new DeleteQueueCommand({ QueueUrl: url }));
  const gone = await errorOf(sqs, new GetQueueUrlCommand({ QueueName: name }));
  check(gone.name === "QueueDoesNotExist", "DeleteQueue");
  console.log("@aws-sdk/client-sqs (" + protocol + "): " +
              (failures ? "FAILED " + failures : "ok"));
  process.exit(failures ? 1 : 0);
}

main().catch((e) => {
  console.log("  FAIL unexpected error: " + (e.stack || e));
  process.exit(1);
});
