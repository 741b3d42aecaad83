#!/usr/bin/env bash
# sqs_awscli.sh - txq-sqs through the aws command-line tool.
#
#   sqs_awscli.sh AWS
#
# Run by tests/sqs/sqs_test.sh, which starts txq-sqs and exports SQS_*.
set -euo pipefail

aws_bin=${1:?aws program}
export AWS_ACCESS_KEY_ID=$SQS_KEY_APP AWS_SECRET_ACCESS_KEY=$SQS_SECRET_APP
export AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=
failures=0

sqs() {
    "$aws_bin" --endpoint-url "$SQS_ENDPOINT" --output json sqs "$@"
}

# field JSON PYTHON-EXPRESSION: evaluate over the parsed JSON (as d).
field() {
    /usr/bin/python3 -c 'import json, sys; d = json.loads(sys.argv[1] or "{}"); print(eval(sys.argv[2]))' "$1" "$2"
}

check() {
    if [[ $1 == "$2" ]]; then
        echo "  ok   $3"
    else
        echo "  FAIL $3 (got '$1', want '$2')"
        failures=$((failures + 1))
    fi
}

q=${SQS_PREFIX}_cli
url=$(field "$(sqs create-queue --queue-name "$q" \
    --attributes VisibilityTimeout=10)" 'd["QueueUrl"]')
check "$url" "$SQS_ENDPOINT/000000000000/$q" "create-queue"
check "$(field "$(sqs get-queue-url --queue-name "$q")" 'd["QueueUrl"]')" \
    "$url" "get-queue-url"

body='hello from the aws CLI: <tag> & "quotes"'
out=$(sqs send-message --queue-url "$url" --message-body "$body")
check "$(field "$out" 'd["MD5OfMessageBody"]')" \
    "$(printf '%s' "$body" | md5sum | cut -d' ' -f1)" "send-message: MD5"

out=$(sqs receive-message --queue-url "$url" --wait-time-seconds 2 \
    --attribute-names All)
check "$(field "$out" 'd["Messages"][0]["Body"]')" "$body" "receive-message"
check "$(field "$out" 'd["Messages"][0]["Attributes"]["ApproximateReceiveCount"]')" \
    1 "receive-message: attributes"
handle=$(field "$out" 'd["Messages"][0]["ReceiptHandle"]')

out=$(sqs get-queue-attributes --queue-url "$url" --attribute-names All)
check "$(field "$out" 'd["Attributes"]["ApproximateNumberOfMessagesNotVisible"]')" \
    1 "get-queue-attributes: one in flight"
check "$(field "$out" 'd["Attributes"]["QueueArn"]')" \
    "arn:aws:sqs:us-east-1:000000000000:$q" "get-queue-attributes: QueueArn"

sqs delete-message --queue-url "$url" --receipt-handle "$handle"
out=$(sqs get-queue-attributes --queue-url "$url" \
    --attribute-names ApproximateNumberOfMessagesNotVisible)
check "$(field "$out" 'd["Attributes"]["ApproximateNumberOfMessagesNotVisible"]')" \
    0 "delete-message"

out=$(sqs send-message-batch --queue-url "$url" --entries \
    'Id=a,MessageBody=one' 'Id=b,MessageBody=two,DelaySeconds=901')
check "$(field "$out" '[e["Id"] for e in d.get("Successful", [])]')" "['a']" \
    "send-message-batch: a succeeds"
check "$(field "$out" '[e["Id"] for e in d.get("Failed", [])]')" "['b']" \
    "send-message-batch: b (delay 901) fails alone"

# Message attributes (a queue of their own): the CLI shows the digest; the
# test computes it.
aurl=$(field "$(sqs create-queue --queue-name "${q}_attrs")" 'd["QueueUrl"]')
attrs='{"kind":{"DataType":"String","StringValue":"cli"},"n":{"DataType":"Number","StringValue":"42"}}'
out=$(sqs send-message --queue-url "$aurl" --message-body attrs \
    --message-attributes "$attrs")
want_md5=$(/usr/bin/python3 "$(dirname "$0")/sqs_digest.py" "$attrs")
check "$(field "$out" 'd["MD5OfMessageAttributes"]')" "$want_md5" \
    "send-message --message-attributes: MD5OfMessageAttributes"
out=$(sqs receive-message --queue-url "$aurl" --message-attribute-names All)
check "$(field "$out" 'sorted((k, sorted(v.items())) for k, v in d["Messages"][0]["MessageAttributes"].items())')" \
    "$(field "$attrs" 'sorted((k, sorted(v.items())) for k, v in d.items())')" \
    "receive-message: the attributes"
check "$(field "$out" 'd["Messages"][0]["MD5OfMessageAttributes"]')" \
    "$want_md5" "receive-message: MD5OfMessageAttributes"
sqs delete-queue --queue-url "$aurl"

# Tags.
sqs tag-queue --queue-url "$url" --tags team=cli,env=test
sqs untag-queue --queue-url "$url" --tag-keys env
check "$(field "$(sqs list-queue-tags --queue-url "$url")" 'd["Tags"]')" \
    "{'team': 'cli'}" "tag-queue, untag-queue, list-queue-tags"

set +e
err=$(AWS_SECRET_ACCESS_KEY=wrong sqs list-queues 2>&1)
rc=$?
set -e
check "$((rc != 0)):$(grep -o SignatureDoesNotMatch <<<"$err" | head -1)" \
    "1:SignatureDoesNotMatch" "a wrong secret is refused"
set +e
err=$(AWS_ACCESS_KEY_ID=$SQS_KEY_NONE AWS_SECRET_ACCESS_KEY=$SQS_SECRET_NONE \
    sqs send-message --queue-url "$url" --message-body x 2>&1)
rc=$?
set -e
check "$((rc != 0)):$(grep -o AccessDenied <<<"$err" | head -1)" "1:AccessDenied" \
    "a role without grants cannot send"

sqs delete-queue --queue-url "$url"
set +e
err=$(sqs get-queue-url --queue-name "$q" 2>&1)
set -e
check "$(grep -o NonExistentQueue <<<"$err" | head -1)" NonExistentQueue \
    "delete-queue"

echo "aws CLI: $([[ $failures -eq 0 ]] && echo ok || echo "FAILED $failures")"
[[ $failures -eq 0 ]]
