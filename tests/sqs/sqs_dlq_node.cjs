// sqs_dlq_node.cjs - dead-letter queues through @aws-sdk/client-sqs (AWS
// JSON 1.0): a RedrivePolicy, a message moved once its receives pass
// maxReceiveCount (by visibility expiry), ListDeadLetterSourceQueues, a
// move task back to the source and its listing, an unknown task handle.
//
// Run by tests/sqs/sqs_test.sh (SQS_* and NODE_PATH exported).
"use strict";
const {
  SQSClient, CreateQueueCommand, SendMessageCommand, ReceiveMessageCommand,
  DeleteQueueCommand, GetQueueAttributesCommand, SetQueueAttributesCommand,
  ListDeadLetterSourceQueuesCommand, StartMessageMoveTaskCommand,
  ListMessageMoveTasksCommand, CancelMessageMoveTaskCommand,
} = require("@aws-sdk/client-sqs");

const env = process.env;
let failures = 0;
const sqs = new SQSClient({
  endpoint: env.SQS_ENDPOINT,
  region: "us-east-1",
  maxAttempts: 1,
  credentials: { accessKeyId: env.SQS_KEY_APP,
                 secretAccessKey: env.SQS_SECRET_APP },
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function check(cond, what) {
  console.log((cond ? "  ok   " : "  FAIL ") + what);
  if (!cond) failures++;
}

async function arnOf(url) {
  const a = await sqs.send(new GetQueueAttributesCommand({
    QueueUrl: url, AttributeNames: ["QueueArn"] }));
  return a.Attributes.QueueArn;
}

async function main() {
  const p = env.SQS_PREFIX;
  const dlq = (await sqs.send(new CreateQueueCommand({
    QueueName: p + "_dlq" }))).QueueUrl;
  const dlqArn = await arnOf(dlq);
  const src = (await sqs.send(new CreateQueueCommand({
    QueueName: p + "_src",
    Attributes: { RedrivePolicy: JSON.stringify({
      deadLetterTargetArn: dlqArn, maxReceiveCount: 1 }) } }))).QueueUrl;
  const rp = JSON.parse((await sqs.send(new GetQueueAttributesCommand({
    QueueUrl: src, AttributeNames: ["RedrivePolicy"] }))).Attributes
    .RedrivePolicy);
  check(rp.deadLetterTargetArn === dlqArn && rp.maxReceiveCount === 1,
        "RedrivePolicy round-trips");

  const id = (await sqs.send(new SendMessageCommand({
    QueueUrl: src, MessageBody: "poison" }))).MessageId;
  let m = (await sqs.send(new ReceiveMessageCommand({
    QueueUrl: src, VisibilityTimeout: 1 }))).Messages || [];
  check(m.length === 1, "received once");
  await sleep(1500); // past its 1 s visibility
  m = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: src })))
    .Messages || [];
  check(m.length === 0, "the second receive finds nothing: moved");
  m = (await sqs.send(new ReceiveMessageCommand({
    QueueUrl: dlq, VisibilityTimeout: 1 }))).Messages || [];
  check(m.length === 1 && m[0].MessageId === id && m[0].Body === "poison",
        "in the dead-letter queue with MessageId " + id);

  const srcs = (await sqs.send(new ListDeadLetterSourceQueuesCommand({
    QueueUrl: dlq }))).queueUrls;
  check(JSON.stringify(srcs) === JSON.stringify([src]),
        "ListDeadLetterSourceQueues: " + srcs);

  await sleep(1500); // the receive from the dead-letter queue lapses
  const handle = (await sqs.send(new StartMessageMoveTaskCommand({
    SourceArn: dlqArn }))).TaskHandle;
  let t = {};
  for (let i = 0; i < 300; i++) {
    const r = (await sqs.send(new ListMessageMoveTasksCommand({
      SourceArn: dlqArn, MaxResults: 10 }))).Results || [];
    t = r.find((x) => x.TaskHandle === handle) || {};
    if (t.Status && t.Status !== "RUNNING") break;
    await sleep(100);
  }
  check(t.Status === "COMPLETED" && t.ApproximateNumberOfMessagesMoved === 1 &&
        t.ApproximateNumberOfMessagesToMove === 1,
        "move task completed: " + JSON.stringify(t));
  m = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: src })))
    .Messages || [];
  check(m.length === 1 && m[0].MessageId === id, "back in the source queue");

  let err = null;
  try {
    await sqs.send(new CancelMessageMoveTaskCommand({ TaskHandle: "424242" }));
  } catch (e) {
    err = e.name;
  }
  check(err === "ResourceNotFoundException", "unknown task handle: " + err);

  await sqs.send(new SetQueueAttributesCommand({
    QueueUrl: src, Attributes: { RedrivePolicy: "" } }));
  await sqs.send(new DeleteQueueCommand({ QueueUrl: src }));
  await sqs.send(new DeleteQueueCommand({ QueueUrl: dlq }));
  console.log("sqs_dlq_node: " + (failures ? "FAILED " + failures : "ok"));
  process.exit(failures ? 1 : 0);
}

main().catch((e) => {
  console.log("  FAIL unexpected error: " + (e.stack || e));
  process.exit(1);
});
